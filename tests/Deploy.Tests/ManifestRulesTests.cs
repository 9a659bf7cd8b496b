using System.Text.Json.Nodes;
using Platform.Deploy.Tests.Checks;
using Platform.Deploy.Tests.Infrastructure;

namespace Platform.Deploy.Tests;

/// <summary>The rules a cluster enforces only at run time (or never), checked before anything is applied.</summary>
public sealed class ManifestRulesTests
{
    public static TheoryData<string> Brokers => [.. Kustomize.Overlays];

    [Theory]
    [MemberData(nameof(Brokers))]
    public void Check_Overlay_FollowsTheRules(string broker)
    {
        Assert.Empty(ManifestRules.Check(Kustomize.Overlay(broker)));
    }

    [Fact]
    public void Check_DaprAnnotationsOnTheDeployment_AreReported()
    {
        var objects = Kustomize.Overlay("redis");
        var ledger = objects.Single("Deployment", "ledger");
        ledger["metadata"]!["annotations"] = new JsonObject { ["dapr.io/enabled"] = "true" };

        Assert.Contains("Deployment/ledger: dapr.io annotations on the workload itself: the injector reads only the pod template's", ManifestRules.Check(objects));
    }

    [Fact]
    public void Check_MisspeltDaprAnnotation_IsReported()
    {
        var objects = Kustomize.Overlay("kafka");
        objects.Single("Deployment", "solver").PodAnnotations()["dapr.io/app-max-concurency"] = "1";

        Assert.Contains("Deployment/solver: 'dapr.io/app-max-concurency' is not an annotation Dapr's injector reads", ManifestRules.Check(objects));
    }

    [Fact]
    public void Check_ShutdownLongerThanTheGracePeriod_IsReported()
    {
        var objects = Kustomize.Overlay("pulsar");
        objects.Single("StatefulSet", "live").PodAnnotations()["dapr.io/graceful-shutdown-seconds"] = "45";

        Assert.Contains("StatefulSet/live: graceful-shutdown-seconds 45 exceeds terminationGracePeriodSeconds 30", ManifestRules.Check(objects));
    }

    [Fact]
    public void Check_StatefulSetWithoutItsHeadlessService_IsReported()
    {
        var objects = Kustomize.Overlay("redis");
        objects.Single("StatefulSet", "live")["spec"]!["serviceName"] = "live";

        Assert.Contains("StatefulSet/live: serviceName 'live' is not a headless Service here", ManifestRules.Check(objects));
    }

    [Fact]
    public void Check_BudgetWithBothBounds_IsReported()
    {
        var objects = Kustomize.Overlay("redis");
        objects.Single("PodDisruptionBudget", "solver")["spec"]!["maxUnavailable"] = 1;

        Assert.Contains("PodDisruptionBudget/solver: minAvailable and maxUnavailable are mutually exclusive", ManifestRules.Check(objects));
    }

    [Fact]
    public void Check_HpaOnAKedaTarget_IsReported()
    {
        var objects = Kustomize.Overlay("kafka");
        objects.Single("HorizontalPodAutoscaler", "solver")["spec"]!["scaleTargetRef"]!["name"] = "balances";

        Assert.Contains("'balances' is scaled by both KEDA and an HPA (KEDA makes its own HPA)", ManifestRules.Check(objects));
    }

    [Fact]
    public void Check_ServicePointingAtNothing_IsReported()
    {
        var objects = Kustomize.Overlay("redis");
        objects.Single("Service", "live")["spec"]!["ports"]![0]!["targetPort"] = "web";
        objects.Single("Service", "routing")["spec"]!["selector"]!["app.kubernetes.io/name"] = "router";

        var problems = ManifestRules.Check(objects);

        Assert.Contains("Service/live: targetPort web is no port of StatefulSet/live", problems);
        Assert.Contains("Service/routing: its selector matches no workload", problems);
    }

    [Fact]
    public void Check_WorkloadWithoutProbesOrLimits_IsReported()
    {
        var objects = Kustomize.Overlay("pulsar");
        var container = objects.Single("Deployment", "hello").AppContainer();
        container.Remove("readinessProbe");
        container["resources"]!.AsObject().Remove("limits");

        var problems = ManifestRules.Check(objects);

        Assert.Contains("Deployment/hello: no readinessProbe", problems);
        Assert.Contains("Deployment/hello: no resource limits", problems);
    }
}

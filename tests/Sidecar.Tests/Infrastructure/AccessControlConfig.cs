namespace Platform.Sidecar.Tests.Infrastructure;

/// <summary>A Configuration whose access control denies every caller but <c>orders</c>, which gets the policy given.</summary>
public static class AccessControlConfig
{
    private static readonly string Header = Yaml.Resource("Configuration", "acl", """
        accessControl:
          defaultAction: deny
          trustDomain: public
          policies:
            - appId: orders
              trustDomain: public
              namespace: default
        """);

    public static string ForOrders(string defaultAction, params (string Name, string Verb, string Action)[] operations)
    {
        var yaml = new StringBuilder(Header).Append($"        defaultAction: {defaultAction}\n        operations:\n");
        foreach (var (name, verb, action) in operations)
        {
            yaml.Append($"          - name: {name}\n            httpVerb: [\"{verb}\"]\n            action: {action}\n");
        }

        return yaml.ToString();
    }
}

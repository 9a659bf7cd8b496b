using Xunit.Abstractions;

namespace Platform.Sidecar.Tests.Actors;

/// <summary>Timers and reminders registered through the SDK and through the HTTP API; reminders in Redis survive a restart.</summary>
public sealed class ActorTimerReminderTests(RedisServer redis, ITestOutputHelper output) : IClassFixture<RedisServer>, IAsyncLifetime
{
    private readonly ActorWorld _world = new(output);

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _world.DisposeAsync().AsTask();

    [Fact]
    public async Task A_timer_fires_in_the_actors_turn_and_stops_when_unregistered()
    {
        var replica = await _world.StartReplicaAsync(ActorWorld.NewAppId(), "A");
        var counter = ActorWorld.Counter(replica.Sidecar, "ticking");

        await counter.StartTimer(100);
        var ticks = await ActorWorld.Eventually(counter.TimerTicks, n => n >= 3, "three timer ticks");
        Assert.All(replica.Probe.TimerTicks, t => Assert.Equal("ticking:tick-data", t));
        await counter.StopTimer();
        Assert.True(ticks >= 3);
    }

    [Fact]
    public async Task A_reminder_fires_with_its_data_and_a_repetition_count_stops_it()
    {
        var replica = await _world.StartReplicaAsync(ActorWorld.NewAppId(), "A");
        var counter = ActorWorld.Counter(replica.Sidecar, "reminded");
        using var http = new HttpClient { BaseAddress = new Uri(replica.Sidecar.HttpEndpoint) };

        await counter.StartReminder("twice", dueMs: 50, periodMs: 1000, repetitions: 2);

        // After its second firing the reminder is gone (R2/PT1S); then exactly two firings happened.
        await ActorWorld.Eventually(async () =>
        {
            using var r = await http.GetAsync($"/v1.0/actors/{CounterActor.TypeName}/reminded/reminders/twice");
            return (int)r.StatusCode;
        }, s => s == 404, "the reminder to finish its two repetitions");
        var calls = replica.Probe.Reminders.Where(c => c.Name == "twice").ToList();
        Assert.Equal(2, calls.Count);
        Assert.All(calls, c => Assert.Equal("hello-twice", c.Data));
        Assert.All(calls, c => Assert.Equal(TimeSpan.FromSeconds(1), c.Period));
        Assert.Equal(2, await counter.RemindersReceived());
    }

    [Fact]
    public async Task Callbacks_echo_the_registration_strings_verbatim()
    {
        await using var app = await RawActorApp.StartAsync(reentrant: false);
        var sidecar = await _world.StartSidecarAsync(ActorWorld.NewAppId("raw"), app.Port);
        using var http = new HttpClient { BaseAddress = new Uri(sidecar.HttpEndpoint) };
        var reminder = """{"dueTime":"PT0S","period":"R1/PT1H","data":"aGVsbG8="}""";
        var timer = """{"callback":"OnTick","dueTime":"0h0m0s10ms","period":"","data":{"n":1}}""";

        using (var r = await http.PutAsync($"/v1.0/actors/{RawActorApp.TypeName}/echo/reminders/rem", new StringContent(reminder)))
        {
            Assert.Equal(204, (int)r.StatusCode);
        }

        using (var r = await http.PutAsync($"/v1.0/actors/{RawActorApp.TypeName}/echo/timers/tim", new StringContent(timer)))
        {
            Assert.Equal(204, (int)r.StatusCode);
        }

        await ActorWorld.Eventually(() => app.Callbacks.Count >= 2, "the reminder and the timer to fire");
        var byPath = app.Callbacks.ToDictionary(c => c.Path, c => c.Body);
        Assert.Equal("""{"dueTime":"PT0S","period":"R1/PT1H","data":"aGVsbG8="}""", byPath[$"PUT /actors/{RawActorApp.TypeName}/echo/method/remind/rem"]);
        Assert.Equal("""{"callback":"OnTick","dueTime":"0h0m0s10ms","period":"","data":{"n":1}}""", byPath[$"PUT /actors/{RawActorApp.TypeName}/echo/method/timer/tim"]);

        using var missing = await http.GetAsync($"/v1.0/actors/{RawActorApp.TypeName}/echo/reminders/nope");
        Assert.Equal(404, (int)missing.StatusCode);
        Assert.Equal("ERR_ACTOR_REMINDER_NOT_FOUND", (await missing.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errorCode").GetString());

        // Reminders and timers only on a sidecar whose app hosts the type, as in daprd.
        using var notHosted = await http.PutAsync("/v1.0/actors/OtherType/x/reminders/rem", new StringContent(reminder));
        Assert.Equal(403, (int)notHosted.StatusCode);
        Assert.Equal("ERR_ACTOR_REMINDER_NON_HOSTED", (await notHosted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errorCode").GetString());
        using var noTimer = await http.PutAsync("/v1.0/actors/OtherType/x/timers/tim", new StringContent(timer));
        Assert.Equal("ERR_ACTOR_TIMER_CREATE", (await noTimer.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errorCode").GetString());
    }

    [Fact]
    public async Task A_ttl_counts_from_the_first_due_time_for_reminders_and_timers()
    {
        // dueTime 2s, period 2s, ttl 3s: due at 2s, expires at 5s, so it fires at 2s and 4s, then is gone.
        // dueTime 2s, ttl 1s (timer): fires once at 2s (a TTL counted from registration would expire it unfired).
        await using var app = await RawActorApp.StartAsync(reentrant: false);
        var sidecar = await _world.StartSidecarAsync(ActorWorld.NewAppId("raw"), app.Port);
        using var http = new HttpClient { BaseAddress = new Uri(sidecar.HttpEndpoint) };

        using (var r = await http.PutAsync($"/v1.0/actors/{RawActorApp.TypeName}/ttl/reminders/rem", new StringContent("""{"dueTime":"2s","period":"2s","ttl":"3s"}""")))
        {
            Assert.Equal(204, (int)r.StatusCode);
        }

        using (var r = await http.PutAsync($"/v1.0/actors/{RawActorApp.TypeName}/ttl/timers/tim", new StringContent("""{"callback":"OnTick","dueTime":"2s","ttl":"1s"}""")))
        {
            Assert.Equal(204, (int)r.StatusCode);
        }

        await ActorWorld.Eventually(async () =>
        {
            using var r = await http.GetAsync($"/v1.0/actors/{RawActorApp.TypeName}/ttl/reminders/rem");
            return (int)r.StatusCode;
        }, s => s == 404, "the reminder to expire");
        await ActorWorld.Eventually(() => app.Callbacks.Any(c => c.Path.EndsWith("/method/timer/tim", StringComparison.Ordinal)), "the timer to fire");
        Assert.Equal(2, app.Callbacks.Count(c => c.Path.EndsWith("/method/remind/rem", StringComparison.Ordinal)));

        // A TTL that is over before the first due time: refused, as daprd refuses it.
        using var expired = await http.PutAsync($"/v1.0/actors/{RawActorApp.TypeName}/ttl/reminders/late",
            new StringContent($$"""{"dueTime":"5s","ttl":"{{DateTimeOffset.UtcNow.AddSeconds(2):O}}"}"""));
        Assert.Equal(500, (int)expired.StatusCode);
        Assert.Equal("ERR_ACTOR_REMINDER_CREATE", (await expired.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errorCode").GetString());
    }

    [Fact]
    public async Task With_redis_a_reminder_still_fires_after_the_app_and_sidecar_restart()
    {
        await using var world = new ActorWorld(output, redis.Port);
        var appId = ActorWorld.NewAppId();
        var first = await world.StartReplicaAsync(appId, "first");
        var before = ActorWorld.Counter(first.Sidecar, "durable");
        await before.StartReminder("beat", dueMs: 100, periodMs: 500, repetitions: 0);
        await ActorWorld.Eventually(before.RemindersReceived, n => n >= 1, "the reminder to fire (and the actor to save it) before the restart");
        await first.DisposeAsync();

        var second = await world.StartReplicaAsync(appId, "second");
        await ActorWorld.Eventually(() => second.Probe.Reminders.Count(c => c.ActorId == "durable" && c.Name == "beat") >= 2, "the reminder to fire after the restart");
        Assert.Equal("hello-beat", second.Probe.Reminders.First().Data);

        // The count the actor keeps in its state went on from where it was: at least one firing from before the
        // restart, plus every one since (the read waits for the actor's turn, so a firing in progress is counted).
        var firedSince = second.Probe.Reminders.Count;
        Assert.True(await ActorWorld.Counter(second.Sidecar, "durable").RemindersReceived() >= firedSince + 1);
    }

    [Fact]
    public async Task An_idle_actor_is_deactivated_in_the_app()
    {
        var replica = await _world.StartReplicaAsync(ActorWorld.NewAppId(), "A", o =>
        {
            o.ActorIdleTimeout = TimeSpan.FromMilliseconds(300);
            o.ActorScanInterval = TimeSpan.FromMilliseconds(100);
        });

        await ActorWorld.Counter(replica.Sidecar, "sleepy").Increment();

        await ActorWorld.Eventually(() => replica.Probe.Deactivated.Contains("sleepy"), "OnDeactivateAsync of the idle actor");
    }
}

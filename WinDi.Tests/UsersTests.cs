namespace WinDi.Tests;

public sealed class UsersTests(SharedApp shared) : IClassFixture<SharedApp>
{
    private readonly WinDiApp app = shared.App;

    [Fact]
    public async Task SearchFindsPeopleByNamePrefixOrEmailPrefixIgnoringCase()
    {
        var tag = Guid.NewGuid().ToString("N")[..8];
        var searcher = await app.RegisterAsync();
        var byName = await app.RegisterAsync($"Zed{tag} Walker");
        var other = await app.RegisterAsync($"Other{tag}");

        var nameHits = await searcher.GetJsonAsync($"/users?search=zed{tag.ToUpperInvariant()}");
        var emailHits = await searcher.GetJsonAsync($"/users?search={Uri.EscapeDataString(other.Email[..20].ToUpperInvariant())}");

        var found = Assert.Single(nameHits.EnumerateArray());
        Assert.Equal(byName.Id, found.Id());
        Assert.Equal(byName.Email, found.GetProperty("email").GetString());
        Assert.Equal($"Zed{tag} Walker", found.GetProperty("name").GetString());
        Assert.Contains(emailHits.EnumerateArray(), u => u.Id() == other.Id);
    }

    [Fact]
    public async Task SearchTreatsLikeWildcardsAsPlainText()
    {
        var searcher = await app.RegisterAsync();
        var hits = await searcher.GetJsonAsync("/users?search=%25");
        Assert.Empty(hits.EnumerateArray());
    }

    [Fact]
    public async Task SearchReturnsAtMost50PeopleAndHonoursASmallerLimit()
    {
        var searcher = await app.RegisterAsync();
        var tag = $"Many{Guid.NewGuid():N}"[..12];
        await Task.WhenAll(Enumerable.Range(0, 52).Select(i => app.RegisterAsync($"{tag} {i}")));

        var capped = await searcher.GetJsonAsync($"/users?search={tag}&limit=500");
        var three = await searcher.GetJsonAsync($"/users?search={tag}&limit=3");

        Assert.Equal(50, capped.GetArrayLength());
        Assert.Equal(3, three.GetArrayLength());
    }

    [Fact]
    public async Task ALimitBelowOneIsABadRequest()
    {
        var searcher = await app.RegisterAsync();
        var response = await searcher.Http.GetAsync("/users?search=a&limit=0");
        await response.AssertProblemAsync(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task PathsAnswerWithAndWithoutATrailingSlash()
    {
        var user = await app.RegisterAsync();
        foreach (var path in new[] { "/users/me", "/users/me/", "/chats", "/chats/", "/users", "/users/" })
        {
            var response = await user.Http.GetAsync(path);
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{path}: {(int)response.StatusCode}");
        }
        using var anonymous = app.Anonymous();
        var registered = await anonymous.PostAsJsonAsync("/register/", new { name = "Slash", email = $"slash.{Guid.NewGuid():N}@example.com", password = "secret1" });
        Assert.Equal(HttpStatusCode.Created, registered.StatusCode);
    }
}

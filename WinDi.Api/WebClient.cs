namespace WinDi.Api;

/// <summary>The browser client in wwwroot/ (no build step), served at / from index.html.</summary>
public static class WebClient
{
    // Everything comes from this origin; the WebSocket too. A defence in depth against injected markup.
    private const string ContentSecurityPolicy =
        "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; " +
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

    public static WebApplication UseWebClient(this WebApplication app)
    {
        app.UseDefaultFiles();
        app.UseStaticFiles(new StaticFileOptions
        {
            OnPrepareResponse = context =>
            {
                var headers = context.Context.Response.Headers;
                // The file names carry no version: browsers revalidate (ETag), so a new deploy shows on reload.
                headers.CacheControl = "no-cache";
                if (context.File.Name.EndsWith(".html", StringComparison.Ordinal))
                {
                    headers.ContentSecurityPolicy = ContentSecurityPolicy;
                    headers.XContentTypeOptions = "nosniff";
                }
            },
        });
        return app;
    }
}

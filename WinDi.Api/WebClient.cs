namespace WinDi.Api;

/// <summary>The browser client in wwwroot/ (no build step), served at / from index.html.</summary>
public static class WebClient
{
    // Everything comes from this origin; the WebSocket too. A defence in depth against injected markup.
    private const string ContentSecurityPolicy =
        "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; " +
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

    /// <summary>The framing and sniffing rules for any response; the Scalar UI needs inline scripts, so only those.</summary>
    private const string ApiDocsPolicy = "frame-ancestors 'none'";

    public static WebApplication UseWebClient(this WebApplication app)
    {
        // On every response the browser may load (scripts, styles, images, errors too), set as the response
        // starts, so that a problem document written after an exception (which clears headers) has them.
        app.Use((context, next) =>
        {
            context.Response.OnStarting(static state =>
            {
                var http = (HttpContext)state;
                var headers = http.Response.Headers;
                headers.XContentTypeOptions = "nosniff";
                headers.XFrameOptions = "DENY";
                headers.ContentSecurityPolicy = http.Request.Path.StartsWithSegments("/scalar") ? ApiDocsPolicy : ContentSecurityPolicy;
                return Task.CompletedTask;
            }, context);
            return next(context);
        });
        app.UseDefaultFiles();
        app.UseStaticFiles(new StaticFileOptions
        {
            // The file names carry no version: browsers revalidate (ETag), so a new deploy shows on reload.
            OnPrepareResponse = context => context.Context.Response.Headers.CacheControl = "no-cache",
        });
        return app;
    }
}

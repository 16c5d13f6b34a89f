using System.Diagnostics;
using WinDi.Api.Realtime;

namespace WinDi.Api;

/// <summary>Keeps access tokens, which travel in the /ws/{token} path and the /ws?access_token= query, out of logs and traces.</summary>
public static class TokenRedaction
{
    public static void RedactTrace(Activity activity, HttpRequest request)
    {
        if (request.Path.StartsWithSegments(RealtimeApi.Path))
        {
            activity.SetTag("url.path", RealtimeApi.Path);
            activity.SetTag("url.query", null);
            activity.SetTag("url.full", null);
        }
    }

    /// <summary>
    /// The hosting layer logs every request's full path and query ("Request starting …"), and, whenever its
    /// category is enabled at any level, opens a log scope per request that carries the path (RequestPath),
    /// which every line of the request then exports (OpenTelemetry's IncludeScopes, a console formatter with
    /// scopes). Turned off entirely, it opens no scope; the API logs what matters (user and connection ids)
    /// itself, and traces carry the redacted path.
    /// </summary>
    public static void KeepTokensOutOfLogs(ILoggingBuilder logging) =>
        logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.None);
}

#:package Microsoft.Playwright@1.64.1
#:property PublishAot=false
using Microsoft.Playwright;
var login = args[0];
var pw = await Playwright.CreateAsync();
var browser = await pw.Chromium.LaunchAsync(new() { ExecutablePath = "/usr/bin/chromium", Headless = true,
  Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"] });
var ctx = await browser.NewContextAsync(new() { ViewportSize = new() { Width = 1400, Height = 900 }, Locale = "en-GB", TimezoneId = "UTC" });
ctx.SetDefaultTimeout(15000);
var page = await ctx.NewPageAsync();
await page.GotoAsync(login);
await page.WaitForTimeoutAsync(3000);
foreach (var step in args.Skip(1)) {
  var (verb, arg) = (step[..step.IndexOf(':')], step[(step.IndexOf(':') + 1)..]);
  Console.WriteLine($"---- {verb} {arg}");
  try {
  switch (verb) {
    case "goto": await page.GotoAsync(new Uri(new Uri(login), arg).ToString()); await page.WaitForTimeoutAsync(3000); break;
    case "click": await page.Locator(arg).First.ClickAsync(); await page.WaitForTimeoutAsync(2000); break;
    case "dump":
      await page.ScreenshotAsync(new() { Path = $"/tmp/dx/{arg}.png", FullPage = true });
      File.WriteAllText($"/tmp/dx/{arg}.html", await page.ContentAsync());
      Console.WriteLine(page.Url); Console.WriteLine(await page.InnerTextAsync("body")); break;
  }
  } catch (Exception e) { Console.WriteLine("FAILED " + e.Message); }
}
await browser.CloseAsync();

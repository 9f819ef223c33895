// Drives headless Chromium (Debian's /usr/bin/chromium, through playwright-core) through the
// console as an analyst would: log in, dashboard, search, open a hostile message. Prints one
// JSON object with what happened; tests/e2e/test_browser.py starts the server and judges.
//
// Inputs (environment): CONSOLE_URL, CONSOLE_USER, CONSOLE_PASSWORD, SEARCH (a query that finds
// the hostile message), EXPECT_TEXT (text of its HTML body), SCREENSHOTS (a directory),
// CHROMIUM (the browser binary), SMTP_HOST and SMTP_PORT (the trap, for a live arrival).
import { chromium } from "playwright-core";
import net from "node:net";

const env = (name) => {
  const v = process.env[name];
  if (!v) { throw new Error(`${name} is not set`); }
  return v;
};
const base = env("CONSOLE_URL");
const origin = new URL(base).origin;
const shots = env("SCREENSHOTS");
// Sends one mail over plain SMTP, waiting for each reply (no pipelining needed).
function sendMail(host, port, subject) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, host);
    const script = ["EHLO browser.test", "MAIL FROM:<live@src.example>",
      "RCPT TO:<victim@trap.example>", "DATA",
      `From: live@src.example\r\nTo: victim@trap.example\r\nSubject: ${subject}\r\n\r\nlive\r\n.`,
      "QUIT"];
    let buf = "";
    sock.setEncoding("utf8");
    sock.setTimeout(10000, () => { sock.destroy(); reject(new Error("SMTP timeout")); });
    sock.on("data", (d) => {
      buf += d;
      // A complete reply ends with a line "NNN text" (no dash after the code).
      while (/(^|\r\n)\d{3} [^\r\n]*\r\n$/.test(buf)) {
        const code = buf.match(/(\d{3}) [^\r\n]*\r\n$/)[1];
        buf = "";
        if (code[0] !== "2" && code[0] !== "3") { sock.destroy(); reject(new Error(`SMTP ${code}`)); return; }
        const next = script.shift();
        if (next === undefined) { sock.end(); resolve(); return; }
        sock.write(next + "\r\n");
      }
    });
    sock.on("error", reject);
  });
}

let current = null;
const out = { requests: [], offOrigin: [], dialogs: [], steps: [], frameText: "", errors: [] };

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  // Chromium's own process sandbox needs user namespaces, which root in a container lacks.
  args: ["--no-sandbox"],
});
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  // Every request of every page and frame, the sandboxed mail body's included.
  context.on("request", (r) => {
    const url = r.url();
    out.requests.push(url);
    if (/^(https?|wss?|ftp):/i.test(url) && new URL(url).origin !== origin) {
      out.offOrigin.push(url);
    }
  });
  const page = await context.newPage();
  current = page;
  page.on("dialog", async (d) => { out.dialogs.push(d.message()); await d.dismiss(); });
  page.on("pageerror", (e) => out.errors.push(String(e)));

  await page.goto(`${base}/login`);
  await page.fill("#user", env("CONSOLE_USER"));
  await page.fill("#password", env("CONSOLE_PASSWORD"));
  await Promise.all([page.waitForURL(`${base}/`), page.click("button[type=submit]")]);
  await page.waitForLoadState("networkidle");
  out.steps.push({ step: "dashboard", url: page.url(), title: await page.title(),
    chartBars: await page.locator("svg.chart rect").count(),
    messageLinks: await page.locator("a[href^='/messages/']").count() });
  await page.screenshot({ path: `${shots}/01-dashboard.png`, fullPage: true });

  // Live updates: a mail that arrives while the list is open shows up without a reload.
  await page.goto(`${base}/messages`);
  await page.waitForLoadState("networkidle");
  const liveSubject = `Live arrival ${Date.now()}`;
  await sendMail(env("SMTP_HOST"), Number(env("SMTP_PORT")), liveSubject);
  await page.locator("#live:not([hidden])").waitFor({ timeout: 20000 });
  await page.locator("#messages tbody tr", { hasText: liveSubject }).first().waitFor({ timeout: 20000 });
  out.steps.push({ step: "live", badge: await page.locator("#live-count").innerText() });
  await page.screenshot({ path: `${shots}/02-live.png`, fullPage: true });

  await page.fill("form.search input[name=q]", env("SEARCH"));
  await Promise.all([page.waitForURL(/\/messages\?q=/), page.press("form.search input[name=q]", "Enter")]);
  await page.waitForLoadState("networkidle");
  const hits = page.locator("#messages tbody a[href^='/messages/']");
  out.steps.push({ step: "search", url: page.url(), hits: await hits.count() });
  await page.screenshot({ path: `${shots}/02-search.png`, fullPage: true });

  await Promise.all([page.waitForURL(/\/messages\/[0-9a-f-]{36}$/), hits.first().click()]);
  await page.waitForLoadState("networkidle");
  const frame = page.frameLocator("iframe.mailbody");
  await frame.locator("body").waitFor({ timeout: 10000 });
  out.frameText = await frame.locator("body").innerText();
  out.steps.push({ step: "message", url: page.url(), title: await page.title(),
    sandbox: await page.locator("iframe.mailbody").getAttribute("sandbox") });
  // Give a refresh, a form submit or a late script every chance to act.
  await page.waitForTimeout(1500);
  await page.waitForLoadState("networkidle");
  await page.screenshot({ path: `${shots}/03-message.png`, fullPage: true });

  // The body URL opened directly, outside the frame: its own CSP must hold.
  const direct = await context.newPage();
  direct.on("dialog", async (d) => { out.dialogs.push(d.message()); await d.dismiss(); });
  await direct.goto(`${page.url()}/body`);
  await direct.waitForLoadState("networkidle");
  await direct.waitForTimeout(1500);
  out.steps.push({ step: "direct-body", url: direct.url() });
  await direct.screenshot({ path: `${shots}/04-body-direct.png`, fullPage: true });
} catch (e) {
  out.errors.push(String(e && e.stack || e));
  if (current) {
    out.errors.push(`at ${current.url()}`);
    await current.screenshot({ path: `${shots}/99-failure.png`, fullPage: true }).catch(() => {});
  }
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(out) + "\n");

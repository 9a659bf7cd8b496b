// The dashboard in a real browser (Debian's chromium, headless, driven by playwright-core), against the whole
// platform started by dev/Host: a routing job's tour drawn as it improves, a deposit's balance, a fraud alert.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { repo, startPlatform } from "./platform.mjs";

const executablePath = process.env.CHROMIUM_PATH ?? ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find(existsSync);
const screenshots = join(repo, "tests", "dashboard", "screenshots");
let platform, browser, page;

before(async () => {
  assert.ok(executablePath, "Chromium is needed: apt-get install -y chromium (test.sh installs it when missing), or set CHROMIUM_PATH");
  mkdirSync(screenshots, { recursive: true });
  platform = await startPlatform();
  browser = await chromium.launch({ executablePath, args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
  const user = `user-${Date.now().toString(36)}`;
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 }, locale: "en-US" });
  page.on("pageerror", (e) => console.error("page error:", e.message));
  await page.goto(`${platform.dashboard}?user=${user}`);
  await page.locator("#connection.up").waitFor({ timeout: 120_000 });
  page.user = user;
}, { timeout: 300_000 });

after(async () => {
  await browser?.close();
  await platform?.stop();
});

async function shot(name) {
  const path = join(screenshots, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  console.log(`screenshot: ${path}`);
}

/** Polls fn in the page's Node side until it returns a truthy value, or fails with what it saw last. */
// Deadlines are generous: a CI machine shared by several builds can take a while per step; every wait still polls.
async function until(fn, what, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await fn();
    if (last) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`timed out waiting for ${what}; last seen: ${JSON.stringify(last)}`);
}

test("starting a job on a shipped instance draws its tour and the length falls", { timeout: 300_000 }, async () => {
  await page.selectOption("#job-form select[name=instance]", "uniform-400");
  // A longer budget gives a loaded machine several 500 ms rounds, so the length can be seen to fall.
  await page.fill("#job-form input[name=budgetMs]", "15000");
  await page.fill("#job-form input[name=parallelism]", "2");
  await page.click("#job-form button");

  const card = page.locator(".job").first();
  await card.waitFor({ timeout: 120_000 });
  const lengths = [];
  let shotTaken = false;
  await until(async () => {
    const value = Number(await card.getAttribute("data-length"));
    if (!lengths.length || lengths[lengths.length - 1] !== value) lengths.push(value);
    if (lengths.length >= 2 && !shotTaken) {
      shotTaken = true;
      await shot("job-running");
    }
    return (await card.getAttribute("data-status")) !== "running" && lengths.length >= 2;
  }, "the job to finish after at least two improvements", 180_000);

  assert.equal(await card.getAttribute("data-status"), "completed");
  assert.ok(lengths[lengths.length - 1] < lengths[0], `the tour length should fall: ${lengths.join(" → ")}`);
  // The tour is drawn: the canvas has lit pixels along the tour's colour, not only the city dots.
  const drawn = await card.locator("canvas").evaluate((c) => {
    const data = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    let lit = 0;
    for (let i = 0; i < data.length; i += 4) if (data[i + 3] > 0 && data[i + 1] > data[i]) lit++;
    return lit;
  });
  assert.ok(drawn > 500, `the tour should be drawn on the canvas (${drawn} pixels)`);
  await shot("job-completed");
});

test("a deposit changes the balance shown", { timeout: 240_000 }, async () => {
  const account = `${page.user}-1`;
  await page.fill("#open-form input[name=accountId]", account);
  await page.click("#open-form button");
  const row = page.locator(`tr[data-account="${account}"] .balance`);
  await row.waitFor({ timeout: 90_000 });
  assert.equal(await row.textContent(), "0.00");

  await page.selectOption("#move-form select[name=accountId]", account);
  await page.fill("#move-form input[name=amount]", "125.50");
  await page.click("#move-form button[value=deposits]");
  await until(async () => (await row.textContent()) === "125.50", "the balance to show 125.50", 90_000);

  // An error from the ledger is shown as the ledger gave it.
  await page.fill("#move-form input[name=amount]", "100000");
  await page.click("#move-form button[value=withdrawals]");
  await page.locator("#problem:not([hidden])").waitFor({ timeout: 60_000 });
  assert.match(await page.textContent("#problem"), /409 insufficient-funds/);
  await shot("deposit");
});

test("a burst of withdrawals raises a fraud alert on the page", { timeout: 240_000 }, async () => {
  const account = `${page.user}-1`;
  await page.selectOption("#move-form select[name=accountId]", account);
  await page.fill("#move-form input[name=amount]", "1");
  for (let i = 0; i < 7; i++) {
    await page.click("#move-form button[value=withdrawals]");
  }

  const alert = page.locator("#alerts li[data-rule=velocity]");
  await alert.first().waitFor({ timeout: 180_000 });
  assert.match(await alert.first().textContent(), new RegExp(`velocity on ${account}`));
  await shot("fraud-alert");
});

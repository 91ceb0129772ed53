// Drives the audit web view in Debian's headless Chromium (through playwright-core over the
// DevTools protocol): overview, filter, open a task, view a trajectory, browse the world, mark
// the task bad. Every request that leaves the server is refused and counted: the page must
// need nothing from the network. Screenshots go to --out.
//   node browser_test.mjs --url http://127.0.0.1:PORT --out DIR --root SOURCE_DIR
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1]]);
  return acc;
}, []));
const base = args.url;
const out = args.out;
const require = createRequire(path.join(args.root, 'scripts/npm/package.json'));
const { chromium } = require('playwright-core');

const NOTE = 'browser: the verifier accepts any city';
const HOSTILE = 'Find the cheapest hotel. <script>window.__xss = 1</script><img src=x onerror="window.__xss = 2"> & report';

function check(cond, message) {
  if (!cond) throw new Error(message);
}

fs.mkdirSync(out, { recursive: true });
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  // playwright gives every launch a fresh temporary profile (--user-data-dir).
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
         '--disable-component-update', '--disable-sync'],
  timeout: 30000,
});
const problems = [];
const outside = [];
let taskId = '';
try {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  page.on('pageerror', e => problems.push(`page error: ${e.message}`));
  page.on('console', m => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  await page.route('**/*', route => {
    const url = route.request().url();
    if (url.startsWith(base) || url.startsWith('blob:') || url.startsWith('data:')) return route.continue();
    outside.push(url);
    return route.abort();
  });

  // 1. Overview with its charts.
  await page.goto(`${base}/#/`);
  await page.waitForSelector('#overview-charts canvas#chart-pass');
  await page.waitForFunction(() => document.body.dataset.ready === '#/');
  const cards = await page.textContent('#overview .cards');
  check(cards.includes('tasks') && cards.includes('8'), `overview cards: ${cards}`);
  await page.waitForTimeout(300);  // charts draw on the next frame
  await page.screenshot({ path: path.join(out, '1-overview.png'), fullPage: true });

  // 2. The task list, filtered to one category.
  await page.click('#nav-tasks');
  await page.waitForSelector('#task-table');
  await page.selectOption('#filter-category', 'trip');
  await page.click('#apply-filters');
  await page.waitForFunction(() => document.querySelector('#total')?.textContent.startsWith('4 task'));
  const categories = await page.$$eval('#task-table tr[data-task] td:nth-child(2)', tds => tds.map(td => td.textContent));
  check(categories.length === 4 && categories.every(c => c === 'trip'), `filtered categories: ${categories}`);
  await page.fill('#filter-q', '<script>');
  await page.click('#apply-filters');
  await page.waitForFunction(() => document.querySelector('#total')?.textContent.startsWith('1 task'));
  await page.screenshot({ path: path.join(out, '2-tasks-filtered.png'), fullPage: true });

  // 3. The task page: the hostile prompt is text, and nothing of it ran.
  await page.click('#task-table a.task-link');
  await page.waitForSelector('#task-prompt');
  taskId = (await page.textContent('#task-id')).trim();
  check((await page.textContent('#task-prompt')) === HOSTILE, 'the prompt is shown verbatim as text');
  check(await page.evaluate(() => window.__xss === undefined), 'a script in the prompt ran');
  check(await page.$$eval('#task-prompt *', n => n.length) === 0, 'the prompt made elements');
  check((await page.textContent('#verifier')).includes('def verify'), 'the verifier source is shown');
  check(await page.$$eval('#verifier .hljs-keyword', n => n.length) > 0, 'the verifier is highlighted');
  check(await page.$$eval('#validations tr', n => n.length) === 4, 'three validations are listed');
  await page.screenshot({ path: path.join(out, '3-task.png'), fullPage: true });

  // 4. A rollout as a conversation with its tool call and result.
  await page.click('#rollouts details.rollout:first-child summary');
  await page.waitForSelector('#rollouts details[open] .tool-call');
  const convo = await page.textContent('#rollouts details[open] .conversation');
  check(convo.includes('search_hotels') && convo.includes('Hotel 3') && convo.includes('Lyon'), `conversation: ${convo}`);
  check(await page.$$eval('#rollouts details[open] .msg.tool', n => n.length) === 1, 'one tool result');
  await page.locator('#rollouts details[open]').screenshot({ path: path.join(out, '4-trajectory.png') });

  // 5. The world database.
  await page.click('#world-tables button[data-table="hotels"]');
  await page.waitForSelector('#world-rows');
  check(await page.$$eval('#world-rows tr', n => n.length) === 51, 'a page of 50 world rows');
  await page.locator('#world-tables button').filter({ hasText: 'odd "name' }).click();
  await page.waitForFunction(() => document.querySelector('#world-rows td')?.textContent === '<b>bold?</b>');
  await page.screenshot({ path: path.join(out, '5-world.png'), fullPage: true });

  // 6. Mark it bad with a note; the history shows the row.
  await page.fill('#audit-note', NOTE);
  await page.click('#mark-bad');
  await page.waitForFunction(note => {
    const row = document.querySelector('#audit-history tr.audit-row');  // newest first
    return row && row.textContent.includes('bad') && row.nextElementSibling?.textContent === note;
  }, NOTE);
  await page.screenshot({ path: path.join(out, '6-marked-bad.png'), fullPage: true });

  // 7. The list's judged filter finds it.
  await page.goto(`${base}/#/tasks?audit=bad`);
  await page.waitForFunction(() => document.querySelector('#total')?.textContent.startsWith('1 task'));
  check(problems.length === 0, `the page reported errors:\n${problems.join('\n')}`);
  check(outside.length === 0, `the page asked for outside resources: ${outside.join(', ')}`);
  console.log(JSON.stringify({ ok: true, task_id: taskId, note: NOTE }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, error: String(e && e.stack || e), problems, outside }));
  process.exitCode = 1;
} finally {
  await browser.close();
}

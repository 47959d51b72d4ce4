// An admin's day with the smtp34.smtp module inside a real 1C-Bitrix kernel (run by run.sh, which brings
// the kernel up). Each test goes on from the one before: install, enable, accounts, mail, the outbox,
// rights, uninstall, and the same again from /bitrix/modules.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync, spawn } = require('node:child_process');
const puppeteer = require('puppeteer-core');

const R = process.env.RB_ROOT || '/tmp/realbitrix';
const BASE = `http://127.0.0.1:${process.env.RB_PORT || 8034}`;
const ROOT = process.env.SMTP34_ROOT;
const SHOTS = process.env.SHOTS;
const ERRORS = `${R}/logs/bitrix_errors.log`;

// ---- the kernel from the CLI, the SMTP server, the error log ----

function kernel(...args) {
  const out = execFileSync('php', ['-c', `${R}/php-run.ini`, path.join(__dirname, 'kernel.php'), ...args], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop());
}

let server = null;
let port = 0;
const spools = [];
async function startServer() {
  // a spool per start: the server numbers its files from 1 again
  const spool = fs.mkdtempSync(path.join(os.tmpdir(), 'smtp34-rb-spool.'));
  spools.push(spool);
  const args = [path.join(ROOT, 'tests/smtp_server.py'), '--spool', spool, '--auth', 'shop:s3cret-pass'];
  if (port) args.push('--port', String(port));
  server = spawn('/usr/bin/python3', args, { stdio: ['ignore', 'pipe', 'inherit'] });
  port = await new Promise((resolve, reject) => {
    server.stdout.on('data', (d) => { const m = /READY (\d+)/.exec(String(d)); if (m) resolve(Number(m[1])); });
    server.on('exit', (code) => reject(new Error(`smtp server exited ${code}`)));
  });
}
function stopServer() {
  server.kill();
  server = null;
}
const received = () => spools.flatMap((spool) => fs.readdirSync(spool).filter((f) => f.endsWith('.eml')).map((f) => fs.readFileSync(path.join(spool, f), 'utf8')));

/** Entries of Bitrix's error log that arose in the module's own files (the kernel's own noise is not ours). */
function moduleErrors() {
  if (!fs.existsSync(ERRORS)) return [];
  return fs.readFileSync(ERRORS, 'utf8').split('----------').map((e) => e.trim().split('\n').filter((l) => l.trim()))
    .filter((lines) => lines.length >= 3 && /smtp34/.test(lines[2])).map((lines) => `${lines[1]} at ${lines[2].trim()}`);
}
const phpErrors = () => (fs.existsSync(`${R}/logs/php_errors.log`) ? fs.readFileSync(`${R}/logs/php_errors.log`, 'utf8') : '')
  .split('\n').filter((l) => /smtp34/.test(l));

// ---- the browser ----

let browser;
let page;
test.before(async () => {
  await startServer();
  fs.writeFileSync(ERRORS, '');
  browser = await puppeteer.launch({ executablePath: '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--lang=ru-RU', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  page = await newPage();
});
test.after(async () => {
  await browser?.close();
  if (server) stopServer();
});

async function newPage() {
  const context = await browser.createBrowserContext();
  const p = await context.newPage();
  await p.setViewport({ width: 1440, height: 1000 });
  p.on('dialog', (d) => d.accept());
  return p;
}

const settle = (p) => p.waitForNetworkIdle({ idleTime: 300, timeout: 5000 }).catch(() => {});
async function go(p, url) {
  const response = await p.goto(BASE + url, { waitUntil: 'load', timeout: 60000 });
  await settle(p);
  return response.status();
}
async function click(p, selector) {
  await Promise.all([p.waitForNavigation({ waitUntil: 'load', timeout: 60000 }), p.click(selector)]);
  await settle(p);
}
async function login(p, user, password) {
  await go(p, '/bitrix/admin/index.php?lang=ru');
  await p.type('input[name=USER_LOGIN]', user);
  await p.type('input[name=USER_PASSWORD]', password);
  await p.click('input[name=Login], .login-btn, [type=submit]');
  await p.waitForFunction(() => !document.querySelector('input[name=USER_LOGIN]'), { timeout: 60000 });
  await settle(p);
}
const shot = (p, name) => p.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });
const sessid = (p) => p.evaluate(() => BX.bitrix_sessid());

/** What a page shows that it should not: PHP messages, untranslated codes, empty headers, labels or cells. */
async function problems(p) {
  return p.evaluate(() => {
    const text = document.body.innerText;
    const found = [];
    for (const m of text.matchAll(/(Fatal error|Warning|Notice|Deprecated|Parse error|Uncaught)[: ][^\n]{0,200}/g)) found.push(m[0]);
    for (const m of text.matchAll(/\bSMTP34_[A-Z0-9_]+|\b(?:J|O|D|COL|FIELD|SET|STATUS|LOG)_[a-zA-Z_]+\b/g)) found.push('untranslated ' + m[0]);
    document.querySelectorAll('.adm-list-table-header .adm-list-table-cell').forEach((td) => {
      if (!/checkbox|popup-block/.test(td.className) && !td.innerText.trim() && !td.querySelector('input')) found.push('empty column header');
    });
    document.querySelectorAll('tr.adm-list-table-row').forEach((tr) => {
      const header = [...tr.closest('table').querySelectorAll('.adm-list-table-header .adm-list-table-cell')];
      [...tr.children].forEach((td, i) => {
        const title = header[i] ? header[i].innerText.trim() : '';
        if (title && !td.innerText.trim() && !/checkbox|popup/.test(td.className) && !/Рассылка|Mailing/.test(title)) found.push(`empty cell under ${title}`);
      });
    });
    document.querySelectorAll('td.adm-detail-content-cell-l').forEach((l) => {
      const r = l.nextElementSibling;
      if (r && r.querySelector('input:not([type=hidden]):not([type=submit]),select,textarea') && !l.innerText.trim()) found.push('empty label');
    });
    return found;
  });
}

const PAGES = {
  dashboard: '/bitrix/admin/smtp34_dashboard.php?lang=ru',
  accounts: '/bitrix/admin/smtp34_accounts.php?lang=ru',
  account_new: '/bitrix/admin/smtp34_account_edit.php?lang=ru',
  logs: '/bitrix/admin/smtp34_logs.php?lang=ru',
  journal: '/bitrix/admin/smtp34_journal.php?lang=ru',
  outbox: '/bitrix/admin/smtp34_outbox.php?lang=ru',
  dkim: '/bitrix/admin/smtp34_dkim.php?lang=ru',
  options: '/bitrix/admin/settings.php?lang=ru&mid=smtp34.smtp',
};

async function visitAll(p, prefix, lang = 'ru', skip = []) {
  for (const [name, url] of Object.entries(PAGES)) {
    if (skip.includes(name)) continue;
    const status = await go(p, url.replace('lang=ru', `lang=${lang}`));
    await shot(p, `${prefix}-${name}`);
    assert.equal(status, 200, `${name}: HTTP ${status}`);
    assert.deepEqual(await problems(p), [], `${name} (${lang})`);
    assert.equal(await p.$('input[name=USER_LOGIN]'), null, `${name}: shown, not a login form`);
  }
  assert.deepEqual(moduleErrors(), [], 'Bitrix error log: nothing from the module');
  assert.deepEqual(phpErrors(), [], 'PHP error log: nothing from the module');
}

/** Marketplace → Installed solutions: the module row's menu, as an admin clicks it. */
async function marketplace(p, word) {
  await go(p, '/bitrix/admin/partner_modules.php?lang=ru');
  const row = await p.evaluateHandle(() => [...document.querySelectorAll('tr.adm-list-table-row')].find((r) => r.innerText.includes('smtp34.smtp')));
  assert.ok(await row.evaluate((r) => !!r), 'the module is listed');
  await (await row.$('.adm-list-table-popup')).click();
  await p.waitForSelector('.bx-core-popup-menu-item', { visible: true });
  const item = await p.evaluateHandle((w) => [...document.querySelectorAll('.bx-core-popup-menu-item')]
    .find((i) => i.innerText.trim() === w && i.offsetParent !== null), word);
  await Promise.all([p.waitForNavigation({ waitUntil: 'load', timeout: 120000 }), item.click()]);
  await settle(p);
}

/** A row menu item of a CAdminList, by the row's id column text and the item's words. */
async function rowMenu(p, id, word) {
  const row = await p.evaluateHandle((id) => [...document.querySelectorAll('tr.adm-list-table-row')]
    .find((r) => [...r.querySelectorAll('td')].some((td) => td.innerText.trim() === String(id))), id);
  await (await row.$('.adm-list-table-popup')).click();
  await p.waitForSelector('.bx-core-popup-menu-item', { visible: true });
  const item = await p.evaluateHandle((w) => [...document.querySelectorAll('.bx-core-popup-menu-item')]
    .find((i) => i.innerText.trim() === w && i.offsetParent !== null), word);
  await item.click();
  await settle(p);
}

/** A group action: tick the rows, choose the action under the list, apply. */
async function groupAction(p, ids, action) {
  for (const id of ids) await p.$eval(`input[name="ID[]"][value="${id}"]`, (box) => box.click());
  if (action === 'delete') {
    await p.$eval('#action_delete_button', (button) => button.click());   // Bitrix shows delete as a button of its own
  } else {
    await p.select('select[name=action]', action);
    await p.$eval('input[name=apply]', (button) => button.click());
  }
  await settle(p);   // the list reloads itself (AJAX)
}

// ---- the day ----

let accountId = 0;

test('the admin installs the module from /local/modules on the Marketplace page', async () => {
  await login(page, 'admin', 'Admin#12345');
  await marketplace(page, 'Установить');
  assert.match(page.url(), /result=OK/);
  const state = kernel('state');
  assert.equal(state.installed, true);
  assert.equal(state.path, '/local/modules/smtp34.smtp');
  assert.equal(state.agents.length, 1);
  assert.equal(state.handlers, 1);
  await go(page, PAGES.dashboard);
  assert.ok((await page.content()).includes('smtp34_accounts.php'), 'the menu under Services');
});

test('every page opens with no PHP error and nothing untranslated, in Russian and English', async () => {
  await visitAll(page, 'admin-ru');
  await visitAll(page, 'admin-en', 'en');
});

test('the admin enables smtp34 on the options page', async () => {
  await go(page, PAGES.options);
  await page.$eval('input[type=checkbox][name=enabled]', (b) => { b.checked = true; });
  await click(page, 'input[name=Update], input[name=save], input[type=submit][name=Apply], input.adm-btn-save');
  assert.equal(kernel('api', 'smtp34_settings').enabled, true);
});

test('the admin adds an account, checked against the server, and edits it', async () => {
  await go(page, PAGES.account_new);
  await page.type('input[name=name]', 'Магазин');
  await page.type('input[name=email]', 'shop@site.test');
  await page.$eval('input[name=host]', (i) => { i.value = '127.0.0.1'; });
  await page.$eval('input[name=port]', (i, port) => { i.value = port; }, String(port));
  await page.select('select[name=security]', 'none');
  await page.select('select[name=auth]', 'login');
  await page.type('input[name=login]', 'shop');
  await page.type('input[name=password]', 's3cret-pass');
  await shot(page, 'admin-account-filled');
  await click(page, 'input[name=save]');
  assert.match(page.url(), /smtp34_accounts\.php/, 'saved, back to the list');
  assert.deepEqual(await problems(page), []);
  const accounts = kernel('api', 'smtp34_account_list');
  assert.equal(accounts.length, 1);
  accountId = accounts[0].id;
  await shot(page, 'admin-accounts');

  await go(page, `/bitrix/admin/smtp34_account_edit.php?lang=ru&id=${accountId}`);
  await page.$eval('input[name=name]', (i) => { i.value = 'Магазин на диване'; });
  await click(page, 'input[name=apply]');
  assert.match(page.url(), /saved=1/);
  assert.equal(kernel('api', 'smtp34_account_get', JSON.stringify([accountId])).name, 'Магазин на диване');
  await shot(page, 'admin-account-edit');
});

test('a letter sent through Bitrix\'s own mail API reaches the server and the journal', async () => {
  const before = received().length;
  const event = kernel('send', 'shop@site.test', 'buyer@mail.test', 'Заказ из Битрикса');
  assert.equal(event.result, 'Y');
  assert.equal(event.journal.status, 'sent');
  const direct = kernel('mail-send', 'shop@site.test', 'buyer2@mail.test', 'Mail::send');
  assert.equal(direct.result, true);
  assert.equal(received().length, before + 2);
  await go(page, PAGES.journal);
  const text = await page.evaluate(() => document.body.innerText);
  assert.match(text, /Заказ из Битрикса/);
  assert.match(text, /Отправлено/, 'the status in words');
  assert.deepEqual(await problems(page), []);
  await shot(page, 'admin-journal');
});

test('the journal and the accounts list filter', async () => {
  await go(page, PAGES.journal);
  await page.$eval('input[name=find_text]', (i) => { i.value = 'buyer2@'; });
  await click(page, 'input[name=set_filter]');
  let rows = await page.$$eval('tr.adm-list-table-row', (r) => r.map((tr) => tr.innerText));
  assert.equal(rows.length, 1);
  assert.match(rows[0], /Mail::send/);
  await shot(page, 'admin-journal-filtered');
  await go(page, PAGES.journal);
  assert.equal((await page.$$('tr.adm-list-table-row')).length, 1, 'Bitrix keeps the filter for the next visit');
  await click(page, 'input[name=del_filter]');
  assert.equal((await page.$$('tr.adm-list-table-row')).length, 2);

  await go(page, PAGES.accounts);
  await page.$eval('input[name=find_text]', (i) => { i.value = 'nothing-like-it'; });
  await click(page, 'input[name=set_filter]');
  assert.equal((await page.$$('tr.adm-list-table-row')).length, 0);
  await click(page, 'input[name=del_filter]');
  assert.equal((await page.$$('tr.adm-list-table-row')).length, 1);
});

test('the admin reads the account\'s log', async () => {
  await go(page, PAGES.logs);
  assert.deepEqual(await problems(page), []);
  await click(page, `a[href*="view=send_${accountId}.log"]`);
  const log = await page.$eval('#log-text', (e) => e.innerText);
  assert.match(log, /RCPT TO:<buyer@mail.test>/);
  assert.doesNotMatch(log, /s3cret-pass|AHNob3AAczNjcmV0LXBhc3M/, 'never the password');
  await shot(page, 'admin-log');
});

test('with the server down a letter waits in the outbox; the admin drops one, the agent sends the other', async () => {
  stopServer();
  assert.equal(kernel('send', 'shop@site.test', 'later@mail.test', 'Подождёт').journal.status, 'queued');
  assert.equal(kernel('send', 'shop@site.test', 'dropped@mail.test', 'Удалим').journal.status, 'queued');
  await go(page, PAGES.outbox);
  assert.deepEqual(await problems(page), []);
  await shot(page, 'admin-outbox');
  const dropped = kernel('api', 'smtp34_outbox_list').find((l) => l.recipients.includes('dropped@'));
  await rowMenu(page, dropped.id, 'Удалить');
  assert.deepEqual(kernel('api', 'smtp34_outbox_list').map((l) => l.recipients), ['later@mail.test']);

  // the agent raises an alert for the failing account; the dashboard's journal of alerts shows where it went
  assert.ok(kernel('api', 'smtp34_account_get', JSON.stringify([accountId])).failures >= 1);
  kernel('api', 'smtp34_settings', JSON.stringify([{ alert_after_failures: 1, alert_webhook: 'http://127.0.0.1:9/hook' }]));
  // CAgent::CheckAgents() runs agents only once its own next check has come, whatever b_agent says
  const alerted = () => kernel('api', 'smtp34_log_list').some((log) => log.name === 'alerts_0.log');
  for (let waited = 0; !alerted() && waited < 120; waited += 5) {
    kernel('due');
    kernel('agents');
    if (!alerted()) await new Promise((resolve) => setTimeout(resolve, 5000));
  }
  await go(page, PAGES.dashboard);
  assert.deepEqual(await problems(page), []);
  const alert = await page.evaluate(() => {
    const row = document.querySelector('#tbl_smtp34_alerts span[data-event="account_failing"]')?.closest('tr.adm-list-table-row');
    return row && { account: row.querySelector('.smtp34-alert-account').innerText, went: row.querySelector('.smtp34-alert-went').innerText };
  });
  await shot(page, 'admin-dashboard-alerts');
  assert.ok(alert, 'the dashboard lists the alert: ' + await page.evaluate(() => document.querySelector('#tbl_smtp34_alerts_result_div')?.outerHTML.slice(0, 3000) ?? document.body.innerText.slice(-1500)));
  assert.equal(alert.account, String(accountId));
  assert.match(alert.went, /webhook failed/, 'nothing listens on port 9');
  kernel('api', 'smtp34_settings', JSON.stringify([{ alert_after_failures: 3, alert_webhook: '' }]));

  await startServer();
  const before = received().length;
  // the letter's next try and the account's rest both end a minute after the failure
  let left = 1;
  for (let waited = 0; left > 0 && waited < 180; waited += 10) {
    await new Promise((resolve) => setTimeout(resolve, 10000));
    kernel('due');
    left = kernel('agents').outbox;
  }
  assert.equal(left, 0, "CAgent::CheckAgents() ran the module's agent, which flushed the outbox");
  assert.equal(received().length, before + 1);
  assert.match(received().join('\n'), /later@mail\.test/);
});

test('the row menu deactivates, group actions activate and delete', async () => {
  const spare = kernel('api', 'smtp34_account_save', JSON.stringify([{ name: 'Запасной', email: 'spare@site.test', host: '127.0.0.1', port, security: 'none', auth: 'none' }, false]));
  await go(page, PAGES.accounts);
  await rowMenu(page, accountId, 'Деактивировать');
  assert.equal(kernel('api', 'smtp34_account_get', JSON.stringify([accountId])).active, false);
  await go(page, PAGES.accounts);
  await groupAction(page, [accountId], 'activate');
  assert.equal(kernel('api', 'smtp34_account_get', JSON.stringify([accountId])).active, true);
  await go(page, PAGES.accounts);
  await groupAction(page, [spare], 'delete');
  assert.equal(kernel('api', 'smtp34_account_get', JSON.stringify([spare])), null);
  assert.deepEqual(await problems(page), []);
});

test('the admin adds a DKIM key under the list, and the next letter leaves signed with the record the page shows', async () => {
  await go(page, PAGES.dkim);
  assert.match(await page.evaluate(() => document.body.innerText), /site\.test \(\d+\)/, 'the warning names the unsigned domain');
  await page.type('input[name=domain]', 'site.test');
  await page.type('input[name=selector]', 'bx');
  await page.select('select[name=source]', 'rsa-2048');
  await click(page, 'input[name=add]');
  assert.match(page.url(), /added=\d+/);
  assert.deepEqual(await problems(page), []);
  const [key] = kernel('api', 'smtp34_dkim_list');
  const text = await page.evaluate(() => document.body.innerText);
  assert.ok(text.includes('bx._domainkey.site.test'), 'the DNS name is shown');
  assert.ok(text.replace(/\s+/g, '').includes(key.dns_value.replace(/\s+/g, '')), 'the TXT record is shown');
  assert.doesNotMatch(text, /site\.test \(\d+\)/, 'no warning once a key signs the domain');
  await shot(page, 'admin-dkim');

  const before = received().length;
  assert.equal(kernel('send', 'shop@site.test', 'signed@mail.test', 'Подписанное').journal.status, 'sent');
  const letter = received().slice(before).join('');
  assert.match(letter, /DKIM-Signature: v=1; a=rsa-sha256;/);
  assert.match(letter, /DKIM-Signature:[^]*\bd=site\.test;/);
  assert.match(letter, /DKIM-Signature:[^]*\bs=bx;/);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'smtp34-rb-dkim.'));
  fs.writeFileSync(`${dir}/letter`, letter);
  fs.writeFileSync(`${dir}/records.json`, JSON.stringify({ [key.dns_name]: key.dns_value }));
  assert.match(execFileSync('/usr/bin/python3', [path.join(ROOT, 'tests/dkim_verify.py'), `${dir}/letter`, `${dir}/records.json`], { encoding: 'utf8' }), /^pass/);

  await go(page, PAGES.dkim.replace('lang=ru', 'lang=ru&check=Y'));
  assert.deepEqual(await problems(page), []);
  await rowMenu(page, key.id, 'Деактивировать');
  assert.equal(kernel('api', 'smtp34_dkim_list')[0].active, false);
});

test('an OAuth 2.0 account is connected through the module\'s return page and sends through Bitrix', async () => {
  const state = fs.mkdtempSync(path.join(os.tmpdir(), 'smtp34-rb-oauth.'));
  const children = [];
  const ready = (child) => new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => { const m = /READY (\d+)/.exec(String(d)); if (m) resolve(Number(m[1])); });
    child.on('exit', (code) => reject(new Error(`exited ${code}`)));
  });
  try {
    const provider = spawn('/usr/bin/python3', [path.join(ROOT, 'tests/oauth_provider.py'), state], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(provider);
    const providerPort = await ready(provider);
    const smtp = spawn('/usr/bin/python3', [path.join(ROOT, 'tests/smtp_server.py'), '--spool', `${state}/spool`, '--auth', 'x:y', '--auth-only', 'XOAUTH2',
      '--xoauth2-tokens', `${state}/tokens`, '--xoauth2-user', 'oauth@site.test'], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(smtp);
    const smtpPort = await ready(smtp);
    const id = kernel('api', 'smtp34_account_save', JSON.stringify([{ name: 'OAuth', email: 'oauth@site.test', host: '127.0.0.1', port: smtpPort,
      security: 'none', auth: 'xoauth2', login: 'oauth@site.test', oauth_provider: 'custom', oauth_client_id: 'client-1', oauth_client_secret: 'secret-1',
      oauth_authorize_url: `http://127.0.0.1:${providerPort}/authorize`, oauth_token_url: `http://127.0.0.1:${providerPort}/token`,
      oauth_scope: 'smtp offline_access' }, false]));

    await go(page, `/bitrix/admin/smtp34_account_edit.php?lang=ru&id=${id}`);
    assert.match(await page.$eval('#oauth-state', (e) => e.innerText), /Ещё не подключено/);
    assert.match(await page.evaluate(() => document.body.innerText), /smtp34_oauth\.php/, 'the return page to register is named');
    await click(page, '#connect');
    assert.match(page.url(), /smtp34_account_edit\.php\?.*connected=1/);
    assert.match(await page.$eval('#oauth-state', (e) => e.innerText), /Подключено как oauth@site\.test/);
    assert.doesNotMatch(await page.content(), /secret-1/);
    assert.deepEqual(await problems(page), []);
    await shot(page, 'admin-oauth-connected');

    const event = kernel('send', 'oauth@site.test', 'buyer@mail.test', 'Через OAuth');
    assert.equal(event.journal.status, 'sent');
    assert.equal(fs.readdirSync(`${state}/spool`).filter((f) => f.endsWith('.eml')).length, 1);

    await go(page, '/bitrix/admin/smtp34_oauth.php?lang=ru&state=made-up&code=x');
    assert.match(await page.evaluate(() => document.body.innerText), /unknown or expired state/);
    assert.equal(kernel('api', 'smtp34_account_delete', JSON.stringify([id])), true);
    assert.deepEqual(moduleErrors(), []);
  } finally {
    for (const child of children) child.kill();
  }
});

test('a group given R sees every page and changes nothing; a group given D is refused', async () => {
  assert.equal(kernel('user', 'reader', 'Reader#12345', 'R').error, '');
  assert.equal(kernel('user', 'stranger', 'Stranger#12345', 'D').error, '');
  const reader = await newPage();
  await login(reader, 'reader', 'Reader#12345');
  // Bitrix's own settings.php shows any module's options only to groups with main's view_other_settings
  await visitAll(reader, 'reader', 'ru', ['options']);
  await go(reader, PAGES.accounts);
  assert.equal(await reader.$('select[name=action]'), null, 'no group actions for R');
  await go(reader, `/bitrix/admin/smtp34_account_edit.php?lang=ru&id=${accountId}`);
  await reader.$eval('input[name=name]', (i) => { i.value = 'Чужое имя'; });
  await reader.evaluate(() => document.querySelector('form[name=smtp34_account_form]').submit());
  await reader.waitForNavigation({ waitUntil: 'load' }).catch(() => {});
  assert.equal(kernel('api', 'smtp34_account_get', JSON.stringify([accountId])).name, 'Магазин на диване', 'R changes nothing');

  const stranger = await newPage();
  await login(stranger, 'stranger', 'Stranger#12345');
  for (const [name, url] of Object.entries(PAGES)) {
    if (name === 'options') continue;
    await go(stranger, url);
    const text = await stranger.evaluate(() => document.body.innerText);
    assert.doesNotMatch(text, /Магазин на диване|buyer@mail\.test/, `${name}: nothing shown to D`);
    assert.match(text, /Доступ запрещён|Доступ закрыт|Access denied|авторизац/i, `${name}: refused`);
  }
  await shot(stranger, 'stranger-accounts');
});

test('uninstalling keeps the data unless asked, and removes the agent and the handler', async () => {
  await marketplace(page, 'Удалить');
  await shot(page, 'admin-uninstall-step');
  assert.ok(await page.$('#savedata:checked'), 'keep the data is ticked');
  await click(page, '#smtp34-uninstall input[type=submit]');
  const state = kernel('state');
  assert.equal(state.installed, false);
  assert.deepEqual(state.agents, []);
  assert.equal(state.handlers, 0);
  assert.equal(state.accounts, 1, 'the data kept');
  assert.ok(!fs.existsSync(`${R}/www/bitrix/admin/smtp34_accounts.php`));
});

test('from /bitrix/modules: install, every page, uninstall with the data deleted', async () => {
  fs.renameSync(`${R}/www/local/modules/smtp34.smtp`, `${R}/www/bitrix/modules/smtp34.smtp`);
  await marketplace(page, 'Установить');
  assert.equal(kernel('state').path, '/bitrix/modules/smtp34.smtp');
  await visitAll(page, 'bitrix-modules');
  await marketplace(page, 'Удалить');
  await page.$eval('#savedata', (b) => { b.checked = false; });
  await click(page, '#smtp34-uninstall input[type=submit]');
  const state = kernel('state');
  assert.equal(state.installed, false);
  assert.equal(state.accounts, 0, 'the accounts deleted as asked');
  fs.renameSync(`${R}/www/bitrix/modules/smtp34.smtp`, `${R}/www/local/modules/smtp34.smtp`);
  assert.deepEqual(moduleErrors(), []);
});

// End-to-end: the standalone admin pages (php -S + php/admin/router.php with the
// extension loaded) in Debian's headless chromium, against a real aiosmtpd.
// Screenshots of each page go to test-output/ at the top of the repository.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer } from 'node:net';
import { chromium } from 'playwright-core';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const shots = join(repo, 'test-output');
const extension = process.env.SMTP34_EXTENSION;
const password = 'e2e-admin-pass';
const work = mkdtempSync(join(tmpdir(), 'smtp34-e2e-'));
const ini = [
  '-d', `extension=${extension}`,
  '-d', `smtp34.db=${work}/smtp34.db`,
  '-d', `smtp34.key_file=${work}/smtp34.key`,
  '-d', `smtp34.log_dir=${work}/logs`,
];
const children = [];
let base, smtpPort, browser, page, hash;

function freePort() {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function start(command, args) {
  const child = spawn(command, args, { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  return child;
}

/**
 * The port a helper server prints as "READY <port>", read across output chunks; a server that exits,
 * fails to start or stays silent for 20 s fails the test with its stderr instead of hanging the suite.
 */
function ready(child, name) {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`${name}: no READY in 20 s; stderr: ${err}`)), 20000);
    child.stdout.on('data', (d) => {
      out += String(d);
      const m = /READY (\d+)/.exec(out);
      if (m) { clearTimeout(timer); resolve(Number(m[1])); }
    });
    child.stderr.on('data', (d) => { err += String(d); });
    child.on('error', (e) => { clearTimeout(timer); reject(new Error(`${name}: ${e.message}`)); });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`${name} exited (${code}); stderr: ${err}`)); });
  });
}

function php(code) {
  return execFileSync('php', [...ini, '-r', code], { cwd: repo, encoding: 'utf8' });
}

const auth = 'Basic ' + Buffer.from(`admin:${password}`).toString('base64');

before(async () => {
  assert.ok(extension, 'SMTP34_EXTENSION must point at the built extension (run .ci/test)');
  mkdirSync(shots, { recursive: true });

  const smtp = start('/usr/bin/python3', ['tests/smtp_server.py', '--spool', join(work, 'spool'), '--auth', 'shop:s3cret-pass']);
  smtpPort = await ready(smtp, 'smtp_server.py');

  hash = execFileSync('php', ['-r', `echo password_hash(${JSON.stringify(password)}, PASSWORD_DEFAULT);`], { encoding: 'utf8' });
  base = await startAdmin(hash);

  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const context = await browser.newContext({ httpCredentials: { username: 'admin', password }, locale: 'ru-RU' });
  page = await context.newPage();
});

after(async () => {
  await browser?.close();
  for (const child of children) child.kill('SIGKILL');
});

/** The standalone admin (php -S) with this password hash; its address. */
async function startAdmin(passwordHash) {
  const port = await freePort();
  const address = `http://127.0.0.1:${port}`;
  start('php', [...ini, '-d', `smtp34.admin_password_hash=${passwordHash}`, '-S', `127.0.0.1:${port}`, 'php/admin/router.php']);
  for (let i = 0; i < 100; i++) {
    try { await fetch(address); break; } catch { await new Promise((r) => setTimeout(r, 100)); }
  }
  return address;
}

/** The settings form posted outside the browser, with the admin's credentials; redirects are not followed. */
function postSettings(address, body) {
  return fetch(address + '/settings', {
    method: 'POST',
    redirect: 'manual',
    headers: { Authorization: auth, 'Content-Type': 'application/x-www-form-urlencoded' },
    body,
  });
}

async function shot(name) {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

async function fillAccount(fields) {
  for (const [name, value] of Object.entries(fields)) {
    const input = page.locator(`[name="${name}"]:not([type=hidden])`);
    if ((await input.getAttribute('type')) === 'checkbox') {
      await input.setChecked(Boolean(value));
    } else if ((await input.evaluate((e) => e.tagName)) === 'SELECT') {
      await input.selectOption(String(value));
    } else {
      await input.fill(String(value));
    }
  }
}

test('without credentials the pages answer 401', async () => {
  const response = await fetch(base + '/accounts');
  assert.equal(response.status, 401);
  assert.match(response.headers.get('www-authenticate'), /^Basic realm="smtp34"/);
  const wrong = await fetch(base + '/accounts', { headers: { Authorization: 'Basic ' + Buffer.from('admin:nope').toString('base64') } });
  assert.equal(wrong.status, 401);
});

test('a POST without sessid is refused and changes nothing', async () => {
  const response = await postSettings(base, 'enabled=Y&log_level=4');
  assert.equal(response.status, 403);
  assert.equal(php('echo json_encode(smtp34_settings()["enabled"]);'), 'false');
});

test('a CSRF token expires after four hours and cannot be made from the hash in php.ini', async () => {
  const { createHmac } = await import('node:crypto');
  // the key the router makes from the typed password, as README describes it
  const key = execFileSync('php', ['-r', 'echo crypt("smtp34-admin-csrf|" . $argv[1], $argv[2]);', password, hash], { encoding: 'utf8' });
  const mac = (secret, issued) => `${issued}.` + createHmac('sha256', secret).update(`smtp34-admin-csrf|admin|${issued}`).digest('hex');
  const token = (issued) => mac(key, issued);
  const post = (sessid) => postSettings(base, `sessid=${encodeURIComponent(sessid)}&log_level=3`);
  const now = Math.floor(Date.now() / 1000);
  assert.equal((await post(token(now - 5 * 3600))).status, 403, 'issued five hours ago');
  assert.equal((await post(token(now + 3600))).status, 403, 'issued in the future');
  const fresh = token(now - 60);
  const forged = fresh.slice(0, -1) + (fresh.endsWith('0') ? '1' : '0');
  assert.equal((await post(forged)).status, 403, 'a forged MAC');
  // all that ini_get() or php.ini tell: the hash (the earlier key) is not enough
  assert.equal((await post(mac(hash, now - 60))).status, 403, 'keyed with the hash');
  assert.equal(php('echo json_encode(smtp34_settings()["log_level"]);'), '2', 'nothing changed');
  assert.equal((await post(token(now - 60))).status, 303, 'a fresh token is taken');
  assert.equal(php('echo json_encode(smtp34_settings()["log_level"]);'), '3');
  php("smtp34_settings(['log_level' => 2]);");
});

test('with an Argon2 password hash (crypt() cannot take it) tokens are still keyed by the password', async () => {
  const { createHmac } = await import('node:crypto');
  const argon2 = execFileSync('php', ['-r', `echo password_hash(${JSON.stringify(password)}, PASSWORD_ARGON2ID);`], { encoding: 'utf8' });
  const address = await startAdmin(argon2);
  const post = (sessid) => postSettings(address, `sessid=${encodeURIComponent(sessid)}&log_level=2`);
  const issued = Math.floor(Date.now() / 1000) - 60;
  for (const [key, what] of [[argon2, 'the hash'], ['*0', "crypt()'s failure"]]) {
    const made = `${issued}.` + createHmac('sha256', key).update(`smtp34-admin-csrf|admin|${issued}`).digest('hex');
    assert.equal((await post(made)).status, 403, `keyed with ${what}`);
  }
  const html = await (await fetch(address + '/settings', { headers: { Authorization: auth } })).text();
  assert.equal((await post(/name="sessid" value="([^"]+)"/.exec(html)[1])).status, 303, "the page's own token");
});

test('an account added through the form is checked and listed', async () => {
  await page.goto(base + '/');
  await shot('01-accounts-empty');
  await page.click('#add-account');
  await fillAccount({ name: 'Магазин', email: 'shop@site.ru', host: '127.0.0.1', port: smtpPort, security: 'none', auth: 'login', login: 'shop', password: 's3cret-pass', mailing_first: true });
  await shot('02-account-form');
  await page.click('#save');
  await page.waitForURL(base + '/accounts');
  const row = page.locator('#accounts tbody tr');
  assert.equal(await row.count(), 1);
  assert.equal(await row.locator('td.name').textContent(), 'Магазин');
  assert.equal(await row.locator('td.email').textContent(), 'shop@site.ru');
  const headers = await page.locator('#accounts th').allTextContents();
  assert.deepEqual(headers.slice(1, 9), ['ID', 'Активность', 'Имя отправителя', 'Email', 'Сервер', 'Порт', 'SSL/TLS', 'Авторизация']);
  await shot('03-accounts-list');
});

test('a wrong password shows the server reply, keeps the form and saves nothing', async () => {
  await page.goto(base + '/account_edit');
  await fillAccount({ name: 'Неверный', email: 'wrong@site.ru', host: '127.0.0.1', port: smtpPort, security: 'none', auth: 'login', login: 'shop', password: 'wrong-password' });
  await page.click('#save');
  const error = page.locator('.smtp34-error');
  assert.match(await error.textContent(), /535 5\.7\.8 Authentication credentials invalid/);
  assert.equal(await page.inputValue('#email'), 'wrong@site.ru');
  assert.equal(await page.inputValue('#name'), 'Неверный');
  assert.equal(await page.inputValue('#password'), '', 'the password is never echoed back');
  assert.ok(!(await page.content()).includes('wrong-password'));
  await shot('04-account-check-failed');
  assert.equal(php('echo count(smtp34_account_list());'), '1');
});

test('editing with Apply and deactivating through the list', async () => {
  await page.goto(base + '/accounts');
  await page.click('#accounts a.edit');
  await page.fill('#name', 'Магазин (основной)');
  await page.click('#apply');
  assert.match(await page.locator('.smtp34-note').textContent(), /Сохранено/);
  assert.equal(await page.inputValue('#name'), 'Магазин (основной)');
  assert.equal(await page.inputValue('#password'), '');
  await page.click('#cancel');
  await page.waitForURL(base + '/accounts');
  await page.check('#accounts tbody input[name="ids[]"]');
  await page.selectOption('#group-action', 'deactivate');
  await page.click('#apply-group');
  await page.waitForURL(base + '/accounts');
  assert.equal(await page.locator('#accounts td.active').textContent(), 'Нет');
  assert.equal(php('echo json_encode(smtp34_account_list()[0]["active"]);'), 'false');
  await page.check('#accounts tbody input[name="ids[]"]');
  await page.selectOption('#group-action', 'activate');
  await page.click('#apply-group');
  assert.equal(await page.locator('#accounts td.active').textContent(), 'Да');
  await page.click('#accounts button.toggle');
  assert.equal(await page.locator('#accounts td.active').textContent(), 'Нет');
  await page.click('#accounts button.toggle');
  assert.equal(await page.locator('#accounts td.active').textContent(), 'Да');
});

test('a row is deleted with its own button', async () => {
  php(`smtp34_account_save(['name' => 'Временный', 'email' => 'temp@site.ru', 'host' => '127.0.0.1', 'port' => ${smtpPort}], false);`);
  await page.goto(base + '/accounts');
  assert.equal(await page.locator('#accounts tbody tr').count(), 2);
  await page.click('#accounts tr[data-id="2"] button.delete');
  await page.waitForURL(base + '/accounts');
  assert.deepEqual(await page.locator('#accounts tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.id)), ['1']);
});

test('settings are saved', async () => {
  await page.goto(base + '/settings');
  await page.check('#enabled');
  await page.selectOption('#log_level', '4');
  await page.fill('#timeout', '7');
  await shot('05-settings');
  await page.click('#save');
  assert.match(await page.locator('.smtp34-note').textContent(), /Сохранено/);
  assert.ok(await page.isChecked('#enabled'));
  assert.equal(await page.inputValue('#log_level'), '4');
  const settings = JSON.parse(php('echo json_encode(smtp34_settings());'));
  assert.equal(settings.enabled, true);
  assert.equal(settings.timeout, 7);

  await page.fill('#timeout', '0');
  await page.click('#save');
  assert.match(await page.locator('.smtp34-error').textContent(), /timeout: must be from 1 to 600/);
});

test('a letter sent shows in the logs and the journal', async () => {
  const sent = php(`var_dump(custom_mail('user@mail.ru', '=?UTF-8?B?' . base64_encode('Заказ №7') . '?=', "Текст письма\\n", 'From: shop@site.ru'));`);
  assert.match(sent, /bool\(true\)/);

  await page.goto(base + '/logs');
  const names = await page.locator('#logs tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.name));
  assert.ok(names.includes('send_1.log'), names.join(','));
  await shot('06-logs');
  await page.click('#logs tr[data-name="send_1.log"] a.view');
  const log = await page.locator('#log-text').textContent();
  assert.match(log, /CLIENT -> SERVER: AUTH PLAIN \*{8}/);
  assert.match(log, /CLIENT -> SERVER: Текст письма/);
  assert.ok(!log.includes('s3cret-pass'));
  await shot('07-log-view');

  await page.goto(base + '/journal');
  const first = page.locator('#journal tbody tr').first();
  assert.equal(await first.locator('td.status').textContent(), 'sent');
  assert.equal(await first.locator('td.subject').textContent(), 'Заказ №7');
  await shot('08-journal');

  await page.goto(base + '/logs');
  await page.click('#logs tr[data-name="send_1.log"] button.delete');
  assert.equal(await page.locator('#logs tr[data-name="send_1.log"]').count(), 0);
});

test('markup in an account stays text', async () => {
  php(`smtp34_account_save(['name' => '<script>window.pwned = 1</script><b>x</b>', 'email' => 'x@site.ru', 'host' => '127.0.0.1', 'port' => ${smtpPort}], false);`);
  await page.goto(base + '/accounts');
  const names = await page.locator('#accounts td.name').allTextContents();
  assert.ok(names.includes('<script>window.pwned = 1</script><b>x</b>'), names.join(' | '));
  assert.equal(await page.evaluate(() => window.pwned), undefined);
  assert.equal(await page.locator('#accounts td.name b').count(), 0);
  await page.goto(base + '/?lang=en');
  assert.equal(await page.locator('h1').textContent(), 'SMTP accounts');
  await shot('09-accounts-english');
});

test('a letter to a server that is down waits in the outbox, is retried and can be dropped', async () => {
  const closedPort = await freePort();
  php(`smtp34_account_save(['name' => 'Склад', 'email' => 'stock@site.ru', 'host' => '127.0.0.1', 'port' => ${closedPort}, 'auth' => 'none'], false);`);
  const sent = php(`var_dump(custom_mail('buyer@mail.ru', '=?UTF-8?B?' . base64_encode('Счёт №12') . '?=', "Текст\\n", 'From: stock@site.ru'));`);
  assert.match(sent, /bool\(true\)/, 'accepted: the outbox keeps it');

  await page.goto(base + '/outbox?lang=ru');
  const row = page.locator('#outbox tbody tr').first();
  assert.equal(await row.locator('td.recipients').textContent(), 'buyer@mail.ru');
  assert.match(await row.locator('td.last-error').textContent(), /cannot connect to 127\.0\.0\.1/);
  assert.equal(await row.locator('td.attempts').textContent(), '1');
  await shot('10-outbox');

  await page.click('#send-now');
  assert.match(await page.locator('.smtp34-note').textContent(), /Отправлено: 0, не доставлено окончательно: 0, ещё в очереди: 1\./);
  assert.equal(await page.locator('#outbox tbody tr td.attempts').first().textContent(), '2');

  await page.goto(base + '/accounts');
  assert.match(await page.locator('#accounts td.state').allTextContents().then((t) => t.join(' ')), /ошибки подряд: 2/);
  await shot('11-accounts-health');

  await page.goto(base + '/outbox');
  await page.click('#outbox tbody tr button.delete');
  assert.match(await page.locator('main').textContent(), /Очередь пуста/);
  await page.goto(base + '/journal');
  const first = page.locator('#journal tbody tr').first();
  assert.equal(await first.locator('td.status').textContent(), 'failed');
  assert.match(await first.locator('td.reply').textContent(), /deleted from the outbox by an admin/);
});

test('the journal filters by status, account, dates and text, and pages', async () => {
  php(`smtp34_settings(['enabled' => true]); for ($i = 1; $i <= 55; $i++) { custom_mail("buyer$i@mail.ru", '=?UTF-8?B?' . base64_encode("Партия №$i") . '?=', "Текст\\n", 'From: shop@site.ru'); }`);
  const statuses = JSON.parse(php(`echo json_encode(array_count_values(array_column(smtp34_journal(2000), 'status')));`));
  const total = Object.values(statuses).reduce((a, b) => a + b, 0);

  await page.goto(base + '/journal?lang=ru');
  assert.equal(await page.locator('#journal-count').textContent(), `Найдено писем: ${total}`);
  assert.equal(await page.locator('#journal tbody tr').count(), 50);
  await page.click('#pager a:text-is("2")');
  assert.equal(await page.locator('#journal tbody tr').count(), total - 50);
  assert.equal(await page.locator('#pager strong').textContent(), '2');

  await page.fill('#filter-text', 'партия №7');
  await page.click('#filter-apply');
  const subjects = await page.locator('#journal td.subject').allTextContents();
  assert.deepEqual(subjects, ['Партия №7'], subjects.join(' | '));
  await shot('12-journal-filter');

  await page.click('#filter-reset');
  await page.selectOption('#filter-status', 'failed');
  await page.click('#filter-apply');
  const shown = await page.locator('#journal td.status').allTextContents();
  assert.equal(shown.length, statuses.failed ?? 0);
  assert.ok(shown.every((s) => s === 'failed'), shown.join(','));

  const today = new Date().toISOString().slice(0, 10);
  await page.goto(base + `/journal?from=${today}&to=${today}&account=none&status=sent`);
  assert.match(await page.locator('#journal-empty').textContent(), /Нет писем, подходящих под фильтр/);
  assert.equal(await page.locator('#filter-account').inputValue(), 'none', 'the form keeps what was asked');
});

test('the dashboard shows letters per day, the accounts and the outbox', async () => {
  const statuses = JSON.parse(php(`echo json_encode(array_count_values(array_column(smtp34_journal(2000), 'status')));`));
  php(`custom_mail('later@mail.ru', 'Позже', "Текст\\n", 'From: stock@site.ru');`);
  await page.goto(base + '/dashboard?lang=ru');
  assert.equal(await page.locator('header a.current').textContent(), 'Сводка');
  assert.equal(await page.locator('#daily-chart g.day').count(), 30);
  const today = new Date();
  const day = `${today.getFullYear()}-${String(today.getMonth() + 1).padStart(2, '0')}-${String(today.getDate()).padStart(2, '0')}`;
  assert.equal(await page.locator(`#daily-chart g.day[data-day="${day}"] rect.sent`).getAttribute('data-count'), String(statuses.sent));
  assert.match(await page.locator('#totals').textContent(), new RegExp(`Отправлено: ${statuses.sent}`));
  assert.equal(await page.locator('#outbox-size').textContent(), '1');
  assert.match(await page.locator('#dashboard-accounts').textContent(), /stock@site\.ru.*ошибки подряд/s);
  await shot('13-dashboard');
});

test('an OAuth 2.0 account is connected with the Connect link and then sends', async () => {
  const state = join(work, 'oauth');
  mkdirSync(state, { recursive: true });
  const provider = start('/usr/bin/python3', ['tests/oauth_provider.py', state]);
  const providerPort = await ready(provider, 'oauth_provider.py');
  const smtp = start('/usr/bin/python3', ['tests/smtp_server.py', '--spool', join(work, 'oauth-spool'), '--auth', 'x:y',
    '--auth-only', 'XOAUTH2', '--xoauth2-tokens', join(state, 'tokens'), '--xoauth2-user', 'oauth@site.ru']);
  const oauthSmtp = await ready(smtp, 'smtp_server.py (XOAUTH2)');

  // the form offers OAuth 2.0 and its fields; the client secret is write-only like the password
  await page.goto(base + '/account_edit');
  await fillAccount({ name: 'OAuth', email: 'oauth@site.ru', host: '127.0.0.1', port: oauthSmtp, security: 'none', auth: 'xoauth2',
    login: 'oauth@site.ru', oauth_provider: 'custom', oauth_client_id: 'client-1', oauth_client_secret: 'secret-1',
    oauth_authorize_url: `http://127.0.0.1:${providerPort}/authorize`, oauth_token_url: `http://127.0.0.1:${providerPort}/token`,
    oauth_scope: 'smtp offline_access' });
  await page.click('#apply');
  await page.waitForURL(/account_edit\?id=\d+&saved=1/);
  assert.match(await page.locator('#oauth-state').innerText(), /Ещё не подключено/);
  assert.equal(await page.locator('[name="oauth_client_secret"]').inputValue(), '', 'the secret is never shown again');
  assert.doesNotMatch(await page.content(), /secret-1/);
  await shot('oauth-not-connected');

  // Connect: to the provider (which consents at once) and back through /oauth
  await page.click('#connect');
  await page.waitForURL(/account_edit\?id=\d+&connected=1/);
  assert.match(await page.locator('.smtp34-note').innerText(), /Аккаунт подключён/);
  assert.match(await page.locator('#oauth-state').innerText(), /Подключено как oauth@site\.ru/);
  assert.match(await page.locator('#connect').innerText(), /заново/);
  await shot('oauth-connected');

  const sent = php(`smtp34_settings(['enabled' => true, 'delivery' => 'wait']); echo json_encode(custom_mail('user@mail.ru', 'OAuth', "body\\n", 'From: oauth@site.ru'));`);
  assert.equal(sent, 'true');
  assert.equal(php(`echo smtp34_journal(1)[0]['status'];`), 'sent');

  // a state is good once: the way back replayed is refused on the page
  const replay = await fetch(base + '/oauth?state=made-up&code=x', { headers: { Authorization: auth } });
  assert.equal(replay.status, 400);
  assert.match(await replay.text(), /unknown or expired state/);
});

test('a preset fills the account form and says which password the provider wants', async () => {
  await page.goto(base + '/account_edit');
  await page.fill('[name="email"]', 'shop@yandex.ru');
  await page.selectOption('#preset', 'yandex');
  await page.click('#fill');
  assert.equal(await page.locator('[name="host"]').inputValue(), 'smtp.yandex.ru');
  assert.equal(await page.locator('[name="port"]').inputValue(), '465');
  assert.equal(await page.locator('[name="security"]').inputValue(), 'ssl');
  assert.equal(await page.locator('[name="email"]').inputValue(), 'shop@yandex.ru', 'what was typed stays');
  assert.match(await page.locator('#preset-hint').innerText(), /пароль приложения/);
  await page.selectOption('#preset', 'microsoft365');
  await page.click('#fill');
  assert.equal(await page.locator('[name="auth"]').inputValue(), 'xoauth2');
  assert.equal(await page.locator('[name="oauth_provider"]').inputValue(), 'microsoft');
  await shot('account-preset');
  assert.equal(php(`echo count(array_filter(smtp34_account_list(), fn ($a) => $a['email'] === 'shop@yandex.ru'));`), '0', 'nothing saved');
});

test('the DKIM page adds keys, shows the TXT record that verifies the next letter, and acts on keys', async () => {
  await page.goto(base + '/dkim');
  assert.match(await page.locator('#dkim-unsigned').innerText(), /site\.ru \(\d+\)/, 'letters from site.ru went out unsigned');
  await page.fill('#dkim-domain', 'site.ru');
  await page.fill('#dkim-selector', 'e2e');
  await page.selectOption('#dkim-source', 'ed25519');
  await page.click('#dkim-add-button');
  assert.match(await page.locator('.smtp34-note').innerText(), /Ключ сохранён/);
  assert.equal(await page.locator('#dkim-unsigned').count(), 0, 'site.ru is signed now');
  const row = page.locator('#dkim tbody tr').first();
  assert.equal(await page.locator('#dkim tbody tr').count(), 1);
  assert.equal(await row.locator('td.dns-name').innerText(), 'e2e._domainkey.site.ru');
  const record = await row.locator('td.dns-value').innerText();
  assert.match(record, /^v=DKIM1; k=ed25519; p=[A-Za-z0-9+/=]+$/);
  assert.equal(await row.locator('td.dns').innerText(), 'не проверено');
  await shot('dkim');

  // the record as the page shows it verifies what the server receives next (python3-dkim, DNS answered from the page)
  const spool = join(work, 'spool');
  const before = new Set(readdirSync(spool));
  php(`custom_mail('buyer@mail.ru', 'Подписано', "Текст\\n", "From: shop@site.ru");`);
  const letter = readdirSync(spool).filter((f) => f.endsWith('.eml') && !before.has(f)).sort().pop();
  assert.ok(letter, 'the letter arrived');
  writeFileSync(join(work, 'records.json'), JSON.stringify({ 'e2e._domainkey.site.ru': record }));
  const verdict = execFileSync('/usr/bin/python3', [join(repo, 'tests/dkim_verify.py'), join(spool, letter), join(work, 'records.json')], { encoding: 'utf8' });
  assert.match(verdict, /pass/i, verdict);

  await page.click('#check-dns');
  assert.match(await page.locator('#dkim tbody tr td.dns').first().innerText(), /^(не найдена|опубликован другой ключ)$/, 'nobody published e2e._domainkey.site.ru');

  // an imported PEM; a bad one is refused with what was typed kept
  await page.fill('#dkim-domain', 'shop.test');
  await page.fill('#dkim-selector', 'imp');
  await page.selectOption('#dkim-source', 'import');
  await page.fill('#dkim-private_key', 'not a key');
  await page.click('#dkim-add-button');
  assert.equal(await page.locator('.smtp34-error[role=alert]').count(), 1);
  assert.equal(await page.locator('#dkim-domain').inputValue(), 'shop.test');
  await page.fill('#dkim-private_key', execFileSync('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'], { encoding: 'utf8' }));
  await page.click('#dkim-add-button');
  assert.equal(await page.locator('#dkim tbody tr').count(), 2);
  assert.ok(!(await page.content()).includes('PRIVATE KEY'), 'the private key is never shown');
  const importedRow = page.locator('#dkim tbody tr', { has: page.locator('td.domain', { hasText: 'shop.test' }) });
  assert.equal(await importedRow.locator('td.algorithm').innerText(), 'rsa-sha256');

  const imported = await importedRow.getAttribute('data-id');
  await page.click(`#dkim tr[data-id="${imported}"] button.deactivate`);
  assert.equal(await page.locator(`#dkim tr[data-id="${imported}"] td.active`).innerText(), 'Нет');
  await page.check(`#dkim tr[data-id="${imported}"] input[type=checkbox]`);
  await page.selectOption('#group-action', 'delete');
  await page.click('#apply-group');
  assert.equal(await page.locator('#dkim tbody tr').count(), 1);
  assert.equal(php(`echo count(smtp34_dkim_list());`), '1');
});

test('kept letters are resent from the journal in bulk, to another address', async () => {
  php(`smtp34_settings(['enabled' => true, 'keep_letters' => 'all', 'delivery' => 'wait']);
    for ($i = 1; $i <= 3; $i++) { custom_mail("r$i@mail.ru", "Повтор $i", "Текст $i\\n", 'From: shop@site.ru'); }`);
  await page.goto(base + '/journal?text=' + encodeURIComponent('Повтор'));
  const rows = page.locator('#journal tbody tr');
  assert.equal(await rows.count(), 3);
  assert.deepEqual(await rows.locator('td.kept').allInnerTexts(), ['Да', 'Да', 'Да']);
  for (const box of await rows.locator('input[type=checkbox]').all()) await box.check();
  await page.fill('#resend-to', 'manager@site.ru');
  await page.click('#resend');
  assert.match(await page.locator('.smtp34-note').innerText(), /Поставлено в очередь на повторную отправку: 3\./);
  assert.equal(await page.locator('#filter-text').inputValue(), 'Повтор', 'the filter stays');
  await shot('journal-resent');

  const spool = join(work, 'spool');
  const before = readdirSync(spool).filter((f) => f.endsWith('.json')).length;
  php(`smtp34_outbox_flush(10, true);`);
  const metas = readdirSync(spool).filter((f) => f.endsWith('.json')).sort((a, b) => parseInt(a) - parseInt(b)).slice(before)
    .map((f) => JSON.parse(readFileSync(join(spool, f), 'utf8')));
  assert.equal(metas.length, 3);
  assert.deepEqual(metas.map((m) => m.rcpt_tos), [['manager@site.ru'], ['manager@site.ru'], ['manager@site.ru']]);
  const resent = JSON.parse(php(`echo json_encode(smtp34_journal(3));`));
  assert.ok(resent.every((r) => r.resent_from !== null && r.status === 'sent'), JSON.stringify(resent));
  php(`smtp34_settings(['keep_letters' => 'failed']);`);
});

test('the journal filters and pages over 5,000 rows, window by window; the dashboard shows limits', async () => {
  // 5,000 rows written straight into the journal, a minute apart, older than anything sent above
  execFileSync('php', ['-r', `
    $pdo = new PDO('sqlite:${work}/smtp34.db');
    $pdo->exec("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)
      INSERT INTO journal (time, account_id, mailing_id, from_addr, recipients, subject, message_id, status, reply, duration_ms)
      SELECT strftime('%s', 'now') - 86400 * 3 - (5000 - i) * 60, NULL, NULL, 'old@site.ru', 'client' || i || '@mail.ru',
             'Архив ' || i, '<a' || i || '@site.ru>', CASE WHEN i % 50 = 0 THEN 'failed' ELSE 'sent' END, '250 ok', 5 FROM n
      ORDER BY i");`], { cwd: repo });
  // those rows take ids above the letters sent earlier: order by time is what the pages promise only within a window
  const total = Number(php(`echo count(smtp34_journal(100000));`));
  assert.ok(total > 5000);
  await page.goto(base + '/journal');
  assert.equal(await page.locator('#journal tbody tr').count(), 50);
  assert.match(await page.locator('#window-note').innerText(), /последние 2000 подходящих писем/);
  assert.equal(await page.locator('#pager a').count(), 39, '40 pages of 50 in a window of 2,000');
  const seen = new Set();
  let windows = 0;
  for (;;) {
    windows++;
    for (const id of await page.locator('#journal tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.id))) seen.add(id);
    const older = page.locator('#journal-older');
    if (!(await older.count())) break;
    await older.click();
    assert.equal(await page.locator('#journal-newest').count(), 1);
  }
  assert.equal(windows, Math.ceil(total / 2000));
  await shot('journal-last-window');

  // a filter reaches the oldest rows: every failed one of the 5,000, newest first
  await page.goto(base + '/journal?status=failed&text=' + encodeURIComponent('архив'));
  assert.equal(await page.locator('#journal-count').innerText(), 'Найдено писем: 100');
  assert.equal(await page.locator('#journal tbody tr').first().locator('td.subject').innerText(), 'Архив 5000');
  await page.click('#pager a:text-is("2")');
  assert.equal(await page.locator('#journal tbody tr').last().locator('td.subject').innerText(), 'Архив 50');

  // the dashboard counts the 5,000 too, and shows each account's use against its limits
  php(`foreach (smtp34_account_list() as $a) { if ($a['active']) { smtp34_account_save(['id' => $a['id'], 'hourly_limit' => 1000, 'minute_limit' => 60], false); } }`);
  await page.goto(base + '/dashboard');
  const failedTotal = Number((await page.locator('#totals .total.failed strong').innerText()));
  assert.ok(failedTotal >= 100, `${failedTotal}`);
  assert.match(await page.locator('#dashboard-accounts').innerText(), /за час \d+ \/ 1000, за минуту \d+ \/ 60/);
  await shot('dashboard-limits');
});

test('the dashboard shows the journal of alerts, a webhook that failed marked', { timeout: 120000 }, async () => {
  const hook = start('/usr/bin/python3', ['tests/webhook_server.py', join(work, 'webhook-posts'), '--status', '500']);
  const hookPort = await ready(hook, 'webhook_server.py');
  await page.goto(base + '/dashboard');
  // alerts are about what happens from now on: stock@site.ru has been failing since long before
  const failing = JSON.parse(php(`echo json_encode(array_values(array_filter(smtp34_account_list(), fn ($a) => $a['failures'] > 0)));`));
  assert.ok(failing.length > 0, 'an account of the earlier tests is failing');
  php(`smtp34_settings(['alert_after_failures' => 1, 'alert_webhook' => 'http://127.0.0.1:${hookPort}/hooks/secret-path']); smtp34_maintain();`);
  await page.goto(base + '/dashboard');
  const rows = page.locator('#dashboard-alerts tbody tr[data-event="account_failing"]');
  assert.ok(await rows.count() >= 1);
  const row = rows.first();
  assert.equal(await row.getAttribute('class'), 'failed', 'the webhook answered 500: the row says so');
  assert.match(await row.locator('td.went').innerText(), /webhook failed: HTTP 500/);
  assert.equal(await row.locator('td.account').innerText(), String(failing[0].id));
  assert.match(await row.locator('td.text').innerText(), new RegExp(`аккаунт ${failing[0].id} \\(`));
  assert.match(await page.locator('#dashboard-alerts thead').innerText(), /Куда отправлено/);
  assert.doesNotMatch(await page.content(), /secret-path/, 'the webhook URL is a secret, also on the dashboard');
  assert.match(readFileSync(join(work, 'webhook-posts'), 'utf8'), /account_failing/, 'the receiver got it (and answered 500)');
  await shot('dashboard-alerts');
  php(`smtp34_settings(['alert_after_failures' => 3, 'alert_webhook' => '']);`);
});

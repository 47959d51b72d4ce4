<?php
// The smtp34 admin pages without Bitrix, for development and any PHP site:
//
//   php -d extension=smtp34.so -S 127.0.0.1:8034 php/admin/router.php
//
// Served only with HTTP basic auth against php.ini's smtp34.admin_password_hash
// (a password_hash() value; empty: the pages refuse to serve). Every POST must
// carry the CSRF token in the field `sessid`.
declare(strict_types=1);

require __DIR__ . '/../smtp34.smtp/lib/autoload.php';

use Smtp34\Admin\Actions;
use Smtp34\Admin\Html;
use Smtp34\Admin\I18n;
use Smtp34\Admin\Pages;
use Smtp34\Admin\Request;
use Smtp34\Admin\Response;

header('X-Frame-Options: DENY');
header('X-Content-Type-Options: nosniff');
header("Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'");
header('Cache-Control: no-store');

$lang = in_array($_GET['lang'] ?? null, ['ru', 'en'], true) ? $_GET['lang'] : (in_array($_COOKIE['smtp34_lang'] ?? null, ['ru', 'en'], true) ? $_COOKIE['smtp34_lang'] : 'ru');
if (isset($_GET['lang'])) {
    setcookie('smtp34_lang', $lang, ['path' => '/', 'httponly' => true, 'samesite' => 'Strict']);
}
$t = new I18n($lang);

function smtp34_plain_page(int $status, string $text): never
{
    http_response_code($status);
    header('Content-Type: text/plain; charset=UTF-8');
    echo $text, "\n";
    exit;
}

if (!extension_loaded('smtp34')) {
    smtp34_plain_page(500, $t->get('NO_EXTENSION'));
}
$hash = (string) ini_get('smtp34.admin_password_hash');
if ($hash === '') {
    smtp34_plain_page(403, 'The standalone smtp34 admin is off: set smtp34.admin_password_hash in php.ini to a password_hash() value.');
}
$user = (string) ($_SERVER['PHP_AUTH_USER'] ?? '');
if (!isset($_SERVER['PHP_AUTH_PW']) || !password_verify((string) $_SERVER['PHP_AUTH_PW'], $hash)) {
    header('WWW-Authenticate: Basic realm="smtp34", charset="UTF-8"');
    smtp34_plain_page(401, $t->get('ACCESS_DENIED'));
}

// Stateless CSRF token: when it was issued and an HMAC over that and the
// user. Its key is made from the password the admin types, which is stored
// nowhere: php.ini (and ini_get(), which any PHP code on the site may call)
// holds only its hash, so whoever reads those still cannot make a token. The
// key is that password hashed again with the hash's own salt and cost (under
// a prefix, so it is never the hash itself): a token that leaked is no faster
// a way to guess the password than the hash. It expires after a few hours.
const SMTP34_CSRF_SECONDS = 4 * 3600;
$csrfKey = password_get_info($hash)['algo'] === PASSWORD_BCRYPT
    ? crypt('smtp34-admin-csrf|' . $_SERVER['PHP_AUTH_PW'], $hash)
    : hash_pbkdf2('sha256', (string) $_SERVER['PHP_AUTH_PW'], "smtp34-admin-csrf|$hash", 50_000, 0, true); // crypt() has no Argon2
$csrf = static fn (string $user, int $issued): string => $issued . '.' . hash_hmac('sha256', "smtp34-admin-csrf|$user|$issued", $csrfKey);
$sessid = $csrf($user, time());
$method = $_SERVER['REQUEST_METHOD'] ?? 'GET';
// the OAuth Connect link starts a flow with a GET (a form could not follow the provider's redirect under the CSP)
$startsOAuth = str_starts_with((string) ($_SERVER['REQUEST_URI'] ?? ''), '/oauth?') && isset($_GET['id']);
if ($method === 'POST' || $startsOAuth) {
    $posted = (string) ($method === 'POST' ? ($_POST['sessid'] ?? '') : ($_GET['sessid'] ?? ''));
    $issued = (int) strstr($posted, '.', true);
    $fresh = $issued > time() - SMTP34_CSRF_SECONDS && $issued <= time() + 60;
    if (!$fresh || !hash_equals($csrf($user, $issued), $posted)) {
        smtp34_plain_page(403, $t->get('CSRF_FAILED'));
    }
}

$misshapen = Request::misshapen($_GET, $_POST);
if ($misshapen !== null) {
    smtp34_plain_page(400, "Bad request: the parameter '" . preg_replace('/[^\w.-]/', '?', $misshapen) . "' must be a single value.");
}

$path = trim((string) parse_url($_SERVER['REQUEST_URI'] ?? '/', PHP_URL_PATH), '/');
$page = $path === '' ? 'accounts' : $path;
if (!isset(Pages::PAGES[$page])) {
    smtp34_plain_page(404, 'Not found');
}

$url = static fn (string $page, array $query = []): string => '/' . $page . ($query ? '?' . http_build_query($query) : '');
$pages = new Pages($t, $url, $sessid, Actions::origin($_SERVER, '127.0.0.1'));
try {
    $response = $pages->show($page, new Request($method, $_GET, $_POST));
} catch (\Throwable $e) {
    $response = new Response('smtp34', '<div class="smtp34-error" role="alert">' . Html::e($e->getMessage()) . '</div>', 500);
}
if ($response->redirect !== null) {
    header('Location: ' . $response->redirect, true, 303);
    exit;
}

http_response_code($response->status);
header('Content-Type: text/html; charset=UTF-8');
$nav = '';
foreach (['dashboard' => 'MENU_DASHBOARD', 'accounts' => 'MENU_ACCOUNTS', 'settings' => 'MENU_SETTINGS', 'logs' => 'MENU_LOGS', 'journal' => 'MENU_JOURNAL', 'outbox' => 'MENU_OUTBOX', 'dkim' => 'MENU_DKIM'] as $target => $label) {
    $nav .= '<a href="' . Html::e($url($target)) . '"' . ($target === $page || ($page === 'account_edit' && $target === 'accounts') ? ' class="current"' : '') . '>' . Html::e($t->get($label)) . '</a> ';
}
$other = $lang === 'ru' ? 'en' : 'ru';
?>
<!DOCTYPE html>
<html lang="<?= Html::e($lang) ?>">
<head>
<meta charset="UTF-8">
<title><?= Html::e($response->title) ?> — smtp34</title>
<style>
body { font: 14px/1.4 Arial, sans-serif; margin: 0; background: #eef2f4; color: #222; }
header { background: #3f4b54; color: #fff; padding: 10px 20px; }
header a { color: #fff; margin-right: 14px; text-decoration: none; }
header a.current { border-bottom: 2px solid #fff; }
header .lang { float: right; }
main { padding: 16px 20px; }
h1 { font-size: 22px; font-weight: normal; margin: 0 0 14px; }
.smtp34-table, .smtp34-form { background: #fff; border-collapse: collapse; }
.smtp34-table th, .smtp34-table td { border: 1px solid #d5dbde; padding: 5px 9px; text-align: left; vertical-align: top; }
.smtp34-table th { background: #e0e8ea; }
.smtp34-form td { padding: 6px 10px; vertical-align: top; }
.smtp34-form td:first-child { text-align: right; width: 40%; }
.smtp34-error { background: #fde8e8; border: 1px solid #e3a1a1; padding: 8px 12px; margin-bottom: 12px; white-space: pre-wrap; }
.smtp34-note { background: #e6f4e1; border: 1px solid #a7d39a; padding: 8px 12px; margin-bottom: 12px; }
.smtp34-log { background: #fff; border: 1px solid #d5dbde; padding: 10px; white-space: pre-wrap; font: 12px/1.3 monospace; }
.smtp34-hint { color: #555; max-width: 800px; }
.smtp34-failing { color: #b00020; font-weight: bold; }
.smtp34-buttons button { padding: 5px 12px; }
td form { display: inline; }
.smtp34-filter { background: #fff; border: 1px solid #d5dbde; padding: 8px 10px; margin-bottom: 10px; }
.smtp34-filter label { margin-right: 8px; }
.smtp34-pager a, .smtp34-pager strong { margin-right: 6px; }
.smtp34-chart { background: #fff; border: 1px solid #d5dbde; }
.swatch { display: inline-block; width: 10px; height: 10px; }
</style>
</head>
<body>
<header><strong><?= Html::e($t->get('MENU_TITLE')) ?></strong> &nbsp; <?= $nav ?>
<a class="lang" href="?lang=<?= $other ?>"><?= strtoupper($other) ?></a></header>
<main>
<h1><?= Html::e($response->title) ?></h1>
<?= $response->body ?>
</main>
</body>
</html>

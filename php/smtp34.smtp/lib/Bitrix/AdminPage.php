<?php
declare(strict_types=1);

namespace Smtp34\Bitrix;

use Smtp34\Admin\I18n;
use Smtp34\Admin\Pages;
use Smtp34\Admin\Request;
use Smtp34\Admin\Response;

/**
 * Hosts the shared admin pages inside Bitrix's admin section: the module's
 * rights (R to see, W to change), Bitrix's own sessid check on every POST,
 * Bitrix URLs, and the site charset (pages are UTF-8; a windows-1251 site's
 * input and output are converted).
 */
final class AdminPage
{
    public const MODULE_ID = 'smtp34.smtp';

    /** A full admin page: prolog, page, epilog. */
    public static function run(string $page): void
    {
        global $APPLICATION;
        $root = $_SERVER['DOCUMENT_ROOT'];
        $response = self::handle($page, $APPLICATION, $_SERVER['REQUEST_METHOD'] ?? 'GET', $_GET, $_POST);
        if ($response === null) {
            return;
        }
        if ($response->redirect !== null) {
            LocalRedirect($response->redirect);
            return;
        }
        $APPLICATION->SetTitle(self::out($response->title));
        require $root . '/bitrix/modules/main/include/prolog_admin_after.php';
        echo self::out($response->body);
        require $root . '/bitrix/modules/main/include/epilog_admin.php';
    }

    /** For options.php, which Bitrix shows inside its own admin page. */
    public static function embedded(string $page): void
    {
        global $APPLICATION;
        $response = self::handle($page, $APPLICATION, $_SERVER['REQUEST_METHOD'] ?? 'GET', $_GET, $_POST);
        if ($response?->redirect !== null) {
            LocalRedirect($response->redirect);
        } elseif ($response !== null) {
            echo self::out($response->body);
        }
    }

    /**
     * Checks rights and the POST token, then runs the page. Null when access
     * was refused (the refusal is already shown through $APPLICATION).
     */
    public static function handle(string $page, object $application, string $method, array $get, array $post): ?Response
    {
        $t = new I18n(defined('LANGUAGE_ID') && LANGUAGE_ID === 'en' ? 'en' : 'ru');
        $right = (string) $application->GetGroupRight(self::MODULE_ID);
        $isPost = strtoupper($method) === 'POST';
        if ($right < 'R' || ($isPost && $right < 'W')) {
            $application->AuthForm($t->get('ACCESS_DENIED'));
            return null;
        }
        if ($isPost && !check_bitrix_sessid()) {
            return new Response($t->get('ACCESS_DENIED'), '<div class="adm-info-message">' . htmlspecialchars($t->get('CSRF_FAILED')) . '</div>', 403);
        }
        if (!extension_loaded('smtp34')) {
            return new Response('smtp34', '<div class="adm-info-message">' . htmlspecialchars($t->get('NO_EXTENSION')) . '</div>', 500);
        }
        $pages = new Pages($t, \Closure::fromCallable([self::class, 'url']), bitrix_sessid());
        return $pages->show($page, new Request($method, self::in($get), self::in($post)));
    }

    public static function url(string $page, array $query = []): string
    {
        $query = ['lang' => defined('LANGUAGE_ID') ? LANGUAGE_ID : 'ru'] + $query;
        if ($page === 'settings') {
            return '/bitrix/admin/settings.php?' . http_build_query(['mid' => self::MODULE_ID] + $query);
        }
        return '/bitrix/admin/smtp34_' . $page . '.php?' . http_build_query($query);
    }

    private static function siteIsUtf8(): bool
    {
        return !defined('LANG_CHARSET') || strcasecmp(LANG_CHARSET, 'UTF-8') === 0;
    }

    private static function in(array $values): array
    {
        if (self::siteIsUtf8()) {
            return $values;
        }
        array_walk_recursive($values, static function (&$value): void {
            $value = is_string($value) ? mb_convert_encoding($value, 'UTF-8', LANG_CHARSET) : $value;
        });
        return $values;
    }

    private static function out(string $html): string
    {
        return self::siteIsUtf8() ? $html : mb_convert_encoding($html, LANG_CHARSET, 'UTF-8');
    }
}

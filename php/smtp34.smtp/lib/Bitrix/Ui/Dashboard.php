<?php
declare(strict_types=1);

namespace Smtp34\Bitrix\Ui;

use Smtp34\Admin\Pages;
use Smtp34\Admin\Request;
use Smtp34\Bitrix\AdminPage;
use Smtp34\Bitrix\SiteWarnings;

/** The dashboard (the shared page: daily chart, accounts' health, outbox) inside Bitrix's admin, under the site's warnings. */
final class Dashboard
{
    /** Without the extension the page still shows why mail bypasses smtp34. */
    public const WORKS_WITHOUT_EXTENSION = true;

    /** The page to show, or null when the request was answered already (login form, redirect). */
    public static function prepare(): ?Screen
    {
        if (!Admin::allowed('R')) {
            return null;
        }
        $t = Admin::t();
        $warnings = SiteWarnings::all($_SERVER['DOCUMENT_ROOT'], $t);
        $page = extension_loaded('smtp34')
            ? (new Pages($t, \Closure::fromCallable([AdminPage::class, 'url']), bitrix_sessid()))->show('dashboard', new Request('GET', [], []))
            : null;
        return new Screen($t->get('DASHBOARD_TITLE'), static function () use ($warnings, $page): void {
            Admin::showWarnings($warnings);
            echo $page === null ? '' : Admin::site($page->body);
        });
    }
}

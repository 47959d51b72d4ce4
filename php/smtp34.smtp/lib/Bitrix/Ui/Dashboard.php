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
    /** The page to show, or null when the request was answered already (login form, redirect). */
    public static function prepare(): ?Screen
    {
        // without the extension the page still shows why mail bypasses smtp34
        if (!Admin::allowed('R', needsExtension: false)) {
            return null;
        }
        $t = Admin::t();
        $warnings = SiteWarnings::all($_SERVER['DOCUMENT_ROOT'], $t);
        $page = extension_loaded('smtp34')
            ? (new Pages($t, \Closure::fromCallable([AdminPage::class, 'url']), bitrix_sessid()))->show('dashboard', new Request('GET', [], []))
            : null;
        return new Screen($t->get('DASHBOARD_TITLE'), static function () use ($warnings, $page): void {
            foreach ($warnings as $warning) {
                \CAdminMessage::ShowMessage(['MESSAGE' => Admin::site($warning), 'TYPE' => 'ERROR']);
            }
            echo $page === null ? '' : Admin::site($page->body);
        });
    }
}

<?php
declare(strict_types=1);

namespace Smtp34\Bitrix\Ui;

use Smtp34\Admin\Pages;
use Smtp34\Bitrix\AdminPage;
use Smtp34\Bitrix\SiteWarnings;

/**
 * The dashboard inside Bitrix's admin, under the site's warnings: the shared
 * totals and daily chart, the accounts as one of Bitrix's own lists, and the
 * journal of alerts.
 */
final class Dashboard
{
    public const TABLE_ID = 'tbl_smtp34_dashboard';
    public const ALERTS_TABLE_ID = 'tbl_smtp34_alerts';
    /** Without the extension the page still shows why mail bypasses smtp34. */
    public const WORKS_WITHOUT_EXTENSION = true;

    /** A list whose columns (column => I18n code) are all shown, unsorted. */
    private static function listOf(string $tableId, array $columns): \CAdminList
    {
        $t = Admin::t();
        $list = new \CAdminList($tableId);
        $headers = [];
        foreach ($columns as $column => $code) {
            $headers[] = ['id' => strtoupper($column), 'content' => Admin::e($t->get($code)), 'default' => true];
        }
        $list->AddHeaders($headers);
        return $list;
    }

    /** The journal of alerts as one of Bitrix's lists, a failed webhook in red; null when none was raised. */
    private static function alerts(): ?\CAdminList
    {
        $rows = Pages::alerts();
        if ($rows === []) {
            return null;
        }
        $list = self::listOf(self::ALERTS_TABLE_ID, Pages::ALERT_COLUMNS);
        foreach ($rows as $n => $alert) {
            $cells = [];
            foreach (array_keys(Pages::ALERT_COLUMNS) as $column) {
                $cells[strtoupper($column)] = '<span class="smtp34-alert-' . $column . '" data-event="' . Admin::e($alert['event']) . '"' . Pages::alertStyle($alert, $column) . '>'
                    . Admin::e($alert[$column]) . '</span>';
            }
            Admin::row($list, $n + 1, [], $cells);
        }
        return $list;
    }

    /** The page to show, or null when the request was answered already (login form, redirect). */
    public static function prepare(): ?Screen
    {
        if (!Admin::allowed('R')) {
            return null;
        }
        $t = Admin::t();
        $warnings = SiteWarnings::all($_SERVER['DOCUMENT_ROOT'], $t);
        if (!extension_loaded('smtp34')) {
            return new Screen($t->get('DASHBOARD_TITLE'), static fn () => Admin::showWarnings($warnings));
        }
        $pages = new Pages($t, \Closure::fromCallable([AdminPage::class, 'url']), bitrix_sessid());
        $summary = $pages->dashboardSummary();
        $alerts = self::alerts();
        $list = self::listOf(self::TABLE_ID, Pages::DASHBOARD_COLUMNS);
        foreach ($pages->dashboardAccounts() as $id => $cells) {
            $edit = AdminPage::url('account_edit', ['id' => $id]);
            $row = Admin::row($list, $id, ['id' => $id], array_combine(array_map('strtoupper', array_keys($cells)), array_map([Admin::class, 'site'], $cells)), $edit, $t->get('EDIT'));
            $row->AddActions([['ICON' => 'edit', 'DEFAULT' => true, 'TEXT' => Admin::e($t->get('EDIT')), 'ACTION' => $list->ActionRedirect($edit)]]);
        }
        $list->CheckListMode();
        return new Screen($t->get('DASHBOARD_TITLE'), static function () use ($warnings, $summary, $alerts, $list, $t): void {
            Admin::showWarnings($warnings);
            echo Admin::site($summary), '<h2>', Admin::e($t->get('D_ACCOUNTS')), '</h2>';
            $list->DisplayList();
            echo '<h2>', Admin::e($t->get('D_ALERTS')), '</h2>';
            if ($alerts === null) {
                echo '<p>', Admin::e($t->get('D_NO_ALERTS')), '</p>';
            } else {
                $alerts->DisplayList();
            }
        });
    }
}

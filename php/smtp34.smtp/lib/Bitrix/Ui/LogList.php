<?php
declare(strict_types=1);

namespace Smtp34\Bitrix\Ui;

use Smtp34\Admin\Actions;
use Smtp34\Admin\Html;
use Smtp34\Admin\Lists;
use Smtp34\Bitrix\AdminPage;


/** The transcript logs as a Bitrix list (view, delete), and one log's text. */
final class LogList
{
    public const TABLE_ID = 'tbl_smtp34_logs';

    /** The page to show, or null when the request was answered already (login form, redirect). */
    public static function prepare(): ?Screen
    {
        if (!Admin::allowed('R')) {
            return null;
        }
        $t = Admin::t();
        if (is_string($_GET['view'] ?? null)) {
            return self::view($_GET['view']);
        }
        $sort = new \CAdminSorting(self::TABLE_ID, 'MODIFIED', 'desc');
        $list = new \CAdminList(self::TABLE_ID, $sort);
        $names = Admin::right() >= 'W' ? $list->GroupAction() : false;
        if ($names !== false && $list->GetAction() === 'delete') {
            Actions::deleteLogs($names === [''] ? array_column(smtp34_log_list(), 'name') : $names);
        }
        Admin::headers($list, Lists::LOGS);
        $accounts = array_column(smtp34_account_list(), null, 'id');
        $canWrite = Admin::right() >= 'W';
        $result = Admin::paged(Admin::sorted(smtp34_log_list(), $sort, Admin::sorts(Lists::LOGS)), $list, $t->get('LOGS_TITLE'));
        while ($log = $result->NavNext(false)) {
            $view = AdminPage::url('logs', ['view' => $log['name']]);
            $values = Lists::logValues($log, $accounts[$log['account_id']] ?? null, $t);
            $row = Admin::row($list, $log['name'], $log, Admin::cells(Lists::LOGS, $values, 'NAME', $view), $view, $t->get('LOG_VIEW'));
            $actions = [['ICON' => 'view', 'DEFAULT' => true, 'TEXT' => Admin::e($t->get('LOG_VIEW')), 'ACTION' => $list->ActionRedirect($view)]];
            if ($canWrite) {
                $actions[] = ['ICON' => 'delete', 'TEXT' => Admin::e($t->get('DELETE')), 'ACTION' => $list->ActionDoGroup($log['name'], 'delete')];
            }
            $row->AddActions($actions);
        }
        if ($canWrite) {
            $list->AddGroupActionTable(array_map(static fn ($label) => Admin::site($t->get($label)), Lists::LOG_GROUP_ACTIONS));
        }
        $list->CheckListMode();
        return new Screen($t->get('LOGS_TITLE'), static function () use ($list): void {
            $list->DisplayList();
        });
    }

    private static function view(string $name): Screen
    {
        $t = Admin::t();
        try {
            $text = smtp34_log_read($name);
        } catch (\ValueError | \Smtp34\Exception $e) {
            return new Screen($t->get('LOGS_TITLE'), static function () use ($e): void {
                \CAdminMessage::ShowMessage(Admin::site($e->getMessage()));
            });
        }
        return new Screen($name, static function () use ($t, $text): void {
            echo '<p><a href="' . htmlspecialcharsbx(AdminPage::url('logs')) . '">' . Admin::e($t->get('BACK_TO_LOGS')) . '</a></p>'
                . '<pre class="smtp34-log" id="log-text">' . Admin::e(Html::logText($text)) . '</pre>';
        });
    }
}

<?php
declare(strict_types=1);

namespace Smtp34\Bitrix\Ui;

use Bitrix\Main\Localization\Loc;
use Smtp34\Admin\Actions;
use Smtp34\Admin\Html;
use Smtp34\Admin\Lists;
use Smtp34\Bitrix\AdminPage;

Loc::loadMessages(__FILE__);

/** SMTP accounts as a Bitrix list: filter, sorting, pages, group actions and a context menu per row. */
final class AccountList
{
    public const TABLE_ID = 'tbl_smtp34_accounts';
    /** The page to show, or null when the request was answered already (login form, redirect). */
    public static function prepare(): ?Screen
    {
        if (!Admin::allowed('R')) {
            return null;
        }
        $t = Admin::t();
        $sort = new \CAdminSorting(self::TABLE_ID, 'ID', 'desc');
        $list = new \CAdminList(self::TABLE_ID, $sort);
        $filter = Admin::request($list->InitFilter(['find_active', 'find_text']));

        $ids = Admin::right() >= 'W' ? $list->GroupAction() : false;
        if ($ids !== false && in_array($list->GetAction(), Actions::ACCOUNT_ACTIONS, true)) {
            if ($ids === ['']) {
                $ids = array_column(self::filtered($filter), 'id');
            }
            Actions::accounts((string) $list->GetAction(), $ids);
        }

        Admin::headers($list, Lists::ACCOUNTS);
        $canWrite = Admin::right() >= 'W';
        $result = Admin::paged(Admin::sorted(self::filtered($filter), $sort, Admin::sorts(Lists::ACCOUNTS)), $list, $t->get('ACCOUNTS_TITLE'));
        while ($a = $result->NavNext(false)) {
            $edit = AdminPage::url('account_edit', ['id' => $a['id']]);
            $row = Admin::row($list, $a['id'], $a, Admin::cells(Lists::ACCOUNTS, Lists::accountValues($a, $t), 'ID', $edit), $edit, $t->get('EDIT'));
            $actions = [['ICON' => 'edit', 'DEFAULT' => true, 'TEXT' => Admin::e($t->get('EDIT')), 'ACTION' => $list->ActionRedirect($edit)]];
            foreach ($canWrite ? Lists::accountActions($a) : [] as $action => $label) {
                if ($action === 'delete') {
                    $actions[] = ['SEPARATOR' => true];
                    $actions[] = ['ICON' => 'delete', 'TEXT' => Admin::e($t->get($label)),
                        'ACTION' => "if(confirm('" . \CUtil::JSEscape(Admin::site(Admin::loc('SMTP34_ACCOUNT_DELETE_CONFIRM'))) . "')) " . $list->ActionDoGroup($a['id'], 'delete')];
                } else {
                    $actions[] = ['ICON' => $action, 'TEXT' => Admin::e($t->get($label)), 'ACTION' => $list->ActionDoGroup($a['id'], $action)];
                }
            }
            $row->AddActions($actions);
        }
        $list->AddFooter([['title' => Admin::e($t->get('ACCOUNTS_TITLE')), 'value' => (string) $result->SelectedRowsCount()]]);
        if ($canWrite) {
            $list->AddGroupActionTable(array_map(static fn ($label) => Admin::site($t->get($label)), Lists::ACCOUNT_GROUP_ACTIONS));
            $list->AddAdminContextMenu([['TEXT' => Admin::e($t->get('ADD_ACCOUNT')), 'LINK' => AdminPage::url('account_edit'), 'ICON' => 'btn_new']], false);
        }
        $list->CheckListMode();

        return new Screen($t->get('ACCOUNTS_TITLE'), static function () use ($filter, $list): void {
            self::filterForm($filter);
            $list->DisplayList();
        });
    }

    /** The accounts the filter lets through: active Y/N, text in name, email, host or login. */
    private static function filtered(array $filter): array
    {
        $active = $filter['find_active'] ?? '';
        $text = trim((string) ($filter['find_text'] ?? ''));
        return array_values(array_filter(smtp34_account_list(), static function (array $a) use ($active, $text): bool {
            if (($active === 'Y' && !$a['active']) || ($active === 'N' && $a['active'])) {
                return false;
            }
            return $text === '' || mb_stripos(implode("\n", [$a['name'], $a['email'], $a['host'], $a['login']]), $text) !== false;
        }));
    }

    private static function filterForm(array $filter): void
    {
        global $APPLICATION;
        $t = Admin::t();
        // the first row is always shown; the labels name the rows an admin may add to the box
        echo '<form name="find_form" method="get" action="' . htmlspecialcharsbx($APPLICATION->GetCurPage()) . '">';
        $box = new \CAdminFilter(self::TABLE_ID . '_filter', [Admin::e($t->get('COL_ACTIVE'))]);
        $box->Begin();
        $active = (string) ($filter['find_active'] ?? '');
        echo '<tr><td>' . Admin::e(Admin::loc('SMTP34_FILTER_TEXT')) . ':</td><td><input type="text" name="find_text" size="40" value="' . Admin::e((string) ($filter['find_text'] ?? '')) . '"></td></tr>';
        echo '<tr><td>' . Admin::e($t->get('COL_ACTIVE')) . ':</td><td>' . Admin::site(Html::select('find_active', ['' => $t->get('J_ANY'), 'Y' => $t->get('YES'), 'N' => $t->get('NO')], $active)) . '</td></tr>';
        $box->Buttons(['table_id' => self::TABLE_ID, 'url' => $APPLICATION->GetCurPage(), 'form' => 'find_form']);
        $box->End();
        echo '</form>';
    }
}

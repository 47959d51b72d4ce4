<?php
declare(strict_types=1);

namespace Smtp34\Bitrix\Ui;

use Smtp34\Admin\Dkim;
use Smtp34\Admin\Html;
use Smtp34\Bitrix\AdminPage;

/**
 * DKIM keys (SPEC §9) in Bitrix: the keys as a CAdminList with the TXT
 * record each needs (DNS checked on demand from the context menu), a row's
 * menu and group actions, and the form that adds a key under the list.
 */
final class DkimList
{
    public const TABLE_ID = 'tbl_smtp34_dkim';

    /** The page to show, or null when the request was answered already (login form, redirect). */
    public static function prepare(): ?Screen
    {
        if (!Admin::allowed('R')) {
            return null;
        }
        $t = Admin::t();
        $canWrite = Admin::right() >= 'W';
        $problem = null;
        $post = Admin::request($_POST);
        if ($_SERVER['REQUEST_METHOD'] === 'POST' && isset($post['add']) && Admin::mayChange()) {
            [$id, $problem] = Dkim::add($post, $t);
            if ($id !== null) {
                Admin::redirect('dkim', ['added' => $id]);
                return null;
            }
        }
        $sort = new \CAdminSorting(self::TABLE_ID, 'ID', 'asc');
        $list = new \CAdminList(self::TABLE_ID, $sort);
        $ids = $canWrite ? $list->GroupAction() : false;
        if ($ids !== false) {
            Dkim::act((string) $list->GetAction(), $ids === [''] ? array_column(smtp34_dkim_list(), 'id') : $ids);
        }

        $keys = smtp34_dkim_list();
        $check = isset($_GET['check']);
        Admin::headers($list, Dkim::COLUMNS);
        $result = Admin::paged(Admin::sorted($keys, $sort, Admin::sorts(Dkim::COLUMNS)), $list, $t->get('DK_TITLE'));
        while ($key = $result->NavNext(false)) {
            $row = Admin::row($list, $key['id'], $key, Admin::cells(Dkim::COLUMNS, Dkim::values($key, $check ? Dkim::dnsState($key) : null)));
            if ($canWrite) {
                $toggle = $key['active'] ? 'deactivate' : 'activate';
                $row->AddActions([
                    ['TEXT' => Admin::e($t->get(Dkim::GROUP_ACTIONS[$toggle])), 'ACTION' => $list->ActionDoGroup($key['id'], $toggle)],
                    ['ICON' => 'delete', 'TEXT' => Admin::e($t->get('DELETE')), 'ACTION' => $list->ActionDoGroup($key['id'], 'delete')],
                ]);
            }
        }
        if ($canWrite) {
            $list->AddGroupActionTable(array_map(static fn ($label) => Admin::site($t->get($label)), Dkim::GROUP_ACTIONS));
        }
        $list->AddAdminContextMenu([['TEXT' => Admin::e($t->get('DK_CHECK_DNS')), 'LINK' => AdminPage::url('dkim', ['check' => 'Y'])]], false);
        $list->CheckListMode();

        $unsigned = Dkim::unsignedDomains(Dkim::recentLetters(), $keys);
        $form = $canWrite ? self::addForm($problem !== null ? $post : []) : null;
        return new Screen($t->get('DK_TITLE'), static function () use ($t, $list, $problem, $unsigned, $form): void {
            if ($problem !== null) {
                \CAdminMessage::ShowMessage(['MESSAGE' => Admin::site($problem), 'TYPE' => 'ERROR']);
            } elseif (isset($_GET['added'])) {
                \CAdminMessage::ShowNote(Admin::site($t->get('DK_ADDED')));
            }
            if ($unsigned !== []) {
                $domains = implode(', ', array_map(static fn ($d, $n) => "$d ($n)", array_keys($unsigned), $unsigned));
                \CAdminMessage::ShowMessage(['MESSAGE' => Admin::site(sprintf($t->get('DK_UNSIGNED'), Dkim::RECENT_DAYS, $domains)), 'TYPE' => 'ERROR']);
            }
            echo '<p>' . Admin::e($t->get('DK_HINT')) . '</p>';
            $list->DisplayList();
            $form?->Show();
        });
    }

    /** The form that adds a key; `$posted` what a refused add typed (never the private key). */
    private static function addForm(array $posted): \CAdminForm
    {
        $t = Admin::t();
        $form = new \CAdminForm('smtp34_dkim', [['DIV' => 'dkim_add', 'TAB' => Admin::site($t->get('DK_ADD')), 'TITLE' => Admin::site($t->get('DK_ADD'))]]);
        $form->BeginEpilogContent();
        echo bitrix_sessid_post();
        $form->EndEpilogContent();
        $form->Begin(['FORM_ACTION' => AdminPage::url('dkim')]);
        $form->BeginNextFormTab();
        $form->AddEditField('domain', Admin::site($t->get('DK_domain')), true, ['size' => 30], Admin::site((string) ($posted['domain'] ?? '')));
        $form->AddEditField('selector', Admin::site($t->get('DK_selector')), true, ['size' => 20], Admin::site((string) ($posted['selector'] ?? '')));
        $form->AddDropDownField('source', Admin::site($t->get('DK_SOURCE')), true,
            array_map(static fn ($label) => Admin::site($t->get($label)), Dkim::SOURCES), (string) ($posted['source'] ?? 'rsa-2048'));
        $form->BeginCustomField('private_key', $t->get('DK_PEM'));
        echo '<tr id="tr_private_key"><td class="adm-detail-content-cell-l">' . Admin::e($t->get('DK_PEM')) . '</td><td class="adm-detail-content-cell-r">'
            . '<textarea name="private_key" rows="6" cols="66" autocomplete="off"></textarea></td></tr>';
        $form->EndCustomField('private_key');
        $form->Buttons(false, '<input type="submit" name="add" class="adm-btn-save" value="' . Admin::e($t->get('DK_ADD_BUTTON')) . '">');
        return $form;
    }
}

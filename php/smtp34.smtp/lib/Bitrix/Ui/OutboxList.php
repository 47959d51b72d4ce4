<?php
declare(strict_types=1);

namespace Smtp34\Bitrix\Ui;

use Bitrix\Main\Localization\Loc;
use Smtp34\Admin\Actions;
use Smtp34\Admin\Lists;

Loc::loadMessages(__FILE__);

/** Letters waiting in the outbox as a Bitrix list: send all now, delete (a row's menu or a group action). */
final class OutboxList
{
    public const TABLE_ID = 'tbl_smtp34_outbox';

    /** The page to show, or null when the request was answered already (login form, redirect). */
    public static function prepare(): ?Screen
    {
        if (!Admin::allowed('R')) {
            return null;
        }
        $t = Admin::t();
        $sort = new \CAdminSorting(self::TABLE_ID, 'ID', 'asc');
        $list = new \CAdminList(self::TABLE_ID, $sort);
        if (isset($_REQUEST['flush']) && Admin::mayChange()) {
            $report = Actions::flushOutbox();
            Admin::redirect('outbox', ['sent' => $report['sent'], 'failed' => $report['failed'], 'left' => $report['left']]);
            return null;
        }
        $ids = Admin::right() >= 'W' ? $list->GroupAction() : false;
        if ($ids !== false && $list->GetAction() === 'delete') {
            Actions::deleteLetters($ids === [''] ? array_column(smtp34_outbox_list(), 'id') : $ids);
        }

        Admin::headers($list, Lists::OUTBOX);
        $canWrite = Admin::right() >= 'W';
        $result = Admin::paged(Admin::sorted(smtp34_outbox_list(), $sort, Admin::sorts(Lists::OUTBOX)), $list, $t->get('OUTBOX_TITLE'));
        while ($l = $result->NavNext(false)) {
            $row = Admin::row($list, $l['id'], $l, Admin::cells(Lists::OUTBOX, Lists::outboxValues($l)));
            if ($canWrite) {
                $row->AddActions([['ICON' => 'delete', 'TEXT' => Admin::e($t->get('DELETE')),
                    'ACTION' => "if(confirm('" . \CUtil::JSEscape(Admin::site(Admin::loc('SMTP34_OUTBOX_DELETE_CONFIRM'))) . "')) " . $list->ActionDoGroup($l['id'], 'delete')]]);
            }
        }
        if ($canWrite) {
            $list->AddGroupActionTable(array_map(static fn ($label) => Admin::site($t->get($label)), Lists::OUTBOX_GROUP_ACTIONS));
            $list->AddAdminContextMenu([['TEXT' => Admin::e($t->get('OUTBOX_SEND_NOW')), 'LINK' => \Smtp34\Bitrix\AdminPage::url('outbox', ['flush' => 'Y', 'sessid' => bitrix_sessid()]), 'ICON' => 'btn_new']], false);
        }
        $list->CheckListMode();

        return new Screen($t->get('OUTBOX_TITLE'), static function () use ($t, $list): void {
            if (isset($_GET['sent'])) {
                \CAdminMessage::ShowNote(Admin::site(sprintf($t->get('OUTBOX_FLUSHED'), (int) $_GET['sent'], (int) ($_GET['failed'] ?? 0), (int) ($_GET['left'] ?? 0))));
            }
            echo '<p>' . Admin::e($t->get('OUTBOX_HINT')) . '</p>';
            $list->DisplayList();
        });
    }
}

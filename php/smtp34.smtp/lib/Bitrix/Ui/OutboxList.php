<?php
declare(strict_types=1);

namespace Smtp34\Bitrix\Ui;

use Bitrix\Main\Localization\Loc;
use Smtp34\Admin\Actions;
use Smtp34\Admin\Html;

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
        $list = new \CAdminList(self::TABLE_ID, new \CAdminSorting(self::TABLE_ID, 'ID', 'asc'));
        if (isset($_REQUEST['flush']) && Admin::mayChange()) {
            $report = Actions::flushOutbox();
            Admin::redirect('outbox', ['sent' => $report['sent'], 'failed' => $report['failed'], 'left' => $report['left']]);
            return null;
        }
        $ids = Admin::right() >= 'W' ? $list->GroupAction() : false;
        if ($ids !== false && $list->GetAction() === 'delete') {
            Actions::deleteLetters($ids === [''] ? array_column(smtp34_outbox_list(), 'id') : $ids);
        }

        $headers = [];
        foreach (['ID' => 'O_id', 'CREATED_AT' => 'O_created', 'ACCOUNT_ID' => 'O_account', 'FROM' => 'O_from', 'RECIPIENTS' => 'O_recipients', 'SUBJECT' => 'O_subject',
            'SIZE' => 'O_size', 'ATTEMPTS' => 'O_attempts', 'NEXT_TRY_AT' => 'O_next_try', 'LAST_ERROR' => 'O_last_error'] as $id => $code) {
            $headers[] = ['id' => $id, 'content' => Admin::e($t->get($code)), 'default' => true];
        }
        $list->AddHeaders($headers);
        $canWrite = Admin::right() >= 'W';
        $result = Admin::paged(smtp34_outbox_list(), $list, $t->get('OUTBOX_TITLE'));
        while ($l = $result->NavNext(false)) {
            $cells = ['ID' => (string) $l['id'], 'CREATED_AT' => Html::date($l['created_at']), 'SIZE' => Html::bytes($l['size']), 'ATTEMPTS' => (string) $l['attempts'],
                'NEXT_TRY_AT' => $l['sending'] ? Admin::e($t->get('O_SENDING_NOW')) : Html::date($l['next_try_at'])];
            foreach (['ACCOUNT_ID' => 'account_id', 'FROM' => 'from', 'RECIPIENTS' => 'recipients', 'SUBJECT' => 'subject', 'LAST_ERROR' => 'last_error'] as $id => $key) {
                $cells[$id] = Admin::e($l[$key] ?? '');
            }
            $row = Admin::row($list, $l['id'], $l, $cells);
            if ($canWrite) {
                $row->AddActions([['ICON' => 'delete', 'TEXT' => Admin::e($t->get('DELETE')),
                    'ACTION' => "if(confirm('" . \CUtil::JSEscape(Admin::site(Admin::loc('SMTP34_OUTBOX_DELETE_CONFIRM'))) . "')) " . $list->ActionDoGroup($l['id'], 'delete')]]);
            }
        }
        if ($canWrite) {
            $list->AddGroupActionTable(['delete' => Admin::site($t->get('DELETE'))]);
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

<?php
declare(strict_types=1);

namespace Smtp34\Bitrix\Ui;

use Smtp34\Admin\Actions;
use Smtp34\Admin\Html;
use Smtp34\Admin\Journal;
use Smtp34\Admin\Lists;
use Smtp34\Bitrix\AdminPage;


/** The mail journal as a Bitrix list: the shared filter (status, account, dates, text) and Bitrix's pages. */
final class JournalList
{
    public const TABLE_ID = 'tbl_smtp34_journal';
    private const FILTER = ['find_status' => 'status', 'find_account' => 'account', 'find_date_from' => 'from', 'find_date_to' => 'to', 'find_text' => 'text'];

    /** The page to show, or null when the request was answered already (login form, redirect). */
    public static function prepare(): ?Screen
    {
        if (!Admin::allowed('R')) {
            return null;
        }
        $t = Admin::t();
        $sort = new \CAdminSorting(self::TABLE_ID, 'ID', 'desc');
        $list = new \CAdminList(self::TABLE_ID, $sort);
        $asked = Admin::request($list->InitFilter(array_keys(self::FILTER)));
        $query = [];
        foreach (self::FILTER as $field => $key) {
            $query[$key] = $asked[$field] ?? '';
        }
        $filter = Journal::filterFrom($query);
        $resent = null;
        $ids = Admin::right() >= 'W' ? $list->GroupAction() : false;
        if ($ids !== false && $list->GetAction() === 'resend') {
            $resent = Actions::resend($ids, '');
        }
        $before = max(0, (int) ($_GET['before'] ?? 0));
        $bound = Journal::textBound($filter, $before);
        $window = Journal::window($filter, $before, $bound);

        Admin::headers($list, Lists::JOURNAL);
        $result = Admin::paged(Admin::sorted($window, $sort, Admin::sorts(Lists::JOURNAL)), $list, $t->get('JOURNAL_TITLE'));
        $canWrite = Admin::right() >= 'W';
        while ($r = $result->NavNext(false)) {
            $row = Admin::row($list, $r['id'], $r, Admin::cells(Lists::JOURNAL, Lists::journalValues($r)));
            if ($canWrite && $r['kept']) {
                $row->AddActions([['TEXT' => Admin::e($t->get('J_RESEND')), 'ACTION' => $list->ActionDoGroup($r['id'], 'resend')]]);
            }
        }
        if ($canWrite) {
            $list->AddGroupActionTable(array_map(static fn ($label) => Admin::site($t->get($label)), Lists::JOURNAL_GROUP_ACTIONS));
        }
        $list->CheckListMode();

        // the filter stays in the list's session (InitFilter); the next window is a link of its own
        $note = Journal::windowNote($window, $bound, $t);
        $next = Journal::nextBefore($window, $bound);
        $links = ($before > 0 ? '<a id="journal-newest" href="' . Admin::e(AdminPage::url('journal')) . '">' . Admin::e($t->get('J_NEWEST')) . '</a> ' : '')
            . ($next !== null ? '<a id="journal-older" href="' . Admin::e(AdminPage::url('journal', ['before' => $next])) . '">' . Admin::e($t->get('J_OLDER')) . '</a>' : '');
        return new Screen($t->get('JOURNAL_TITLE'), static function () use ($note, $links, $asked, $list, $resent, $t): void {
            if ($resent !== null) {
                \CAdminMessage::ShowNote(Admin::site(sprintf($t->get('J_RESENT'), $resent[0])));
                foreach ($resent[1] as $problem) {
                    \CAdminMessage::ShowMessage(['MESSAGE' => Admin::site($t->get('J_RESEND_FAILED') . ' ' . $problem), 'TYPE' => 'ERROR']);
                }
            }
            if ($note !== null) {
                \CAdminMessage::ShowMessage(['MESSAGE' => Admin::site($note), 'TYPE' => 'OK']);
            }
            self::filterForm($asked);
            $list->DisplayList();
            if ($links !== '') {
                echo '<p>' . $links . '</p>';
            }
        });
    }

    private static function filterForm(array $asked): void
    {
        global $APPLICATION;
        $t = Admin::t();
        $value = static fn (string $field) => Admin::e((string) ($asked[$field] ?? ''));
        echo '<form name="find_form" method="get" action="' . htmlspecialcharsbx($APPLICATION->GetCurPage()) . '">';
        // the first row (the text) is always shown; the labels name the rows an admin may add to the box
        $box = new \CAdminFilter(self::TABLE_ID . '_filter', array_map(static fn ($code) => Admin::e($t->get($code)), ['J_status', 'J_account', 'J_DATE_FROM']));
        $box->Begin();
        $select = static fn (string $name, array $options, string $selected) => Admin::site(Html::select($name, $options, $selected));
        echo '<tr><td>' . Admin::e($t->get('J_TEXT')) . ':</td><td><input type="text" name="find_text" size="40" value="' . $value('find_text') . '"></td></tr>'
            . '<tr><td>' . Admin::e($t->get('J_status')) . ':</td><td>' . $select('find_status', Journal::statusOptions($t), (string) ($asked['find_status'] ?? '')) . '</td></tr>'
            . '<tr><td>' . Admin::e($t->get('J_account')) . ':</td><td>' . $select('find_account', Journal::accountOptions($t), (string) ($asked['find_account'] ?? '')) . '</td></tr>'
            . '<tr><td>' . Admin::e($t->get('J_DATE_FROM')) . ':</td><td><input type="date" name="find_date_from" value="' . $value('find_date_from') . '"> '
            . Admin::e($t->get('J_DATE_TO')) . ' <input type="date" name="find_date_to" value="' . $value('find_date_to') . '"></td></tr>';
        $box->Buttons(['table_id' => self::TABLE_ID, 'url' => $APPLICATION->GetCurPage(), 'form' => 'find_form']);
        $box->End();
        echo '</form>';
    }
}

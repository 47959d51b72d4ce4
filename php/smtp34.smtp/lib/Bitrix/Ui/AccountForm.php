<?php
declare(strict_types=1);

namespace Smtp34\Bitrix\Ui;

use Bitrix\Main\Localization\Loc;
use Smtp34\Admin\Actions;
use Smtp34\Admin\Html;
use Smtp34\Admin\Presets;
use Smtp34\Bitrix\AdminPage;

Loc::loadMessages(__FILE__);

/**
 * Add / edit an SMTP account as a Bitrix form with three tabs: the account,
 * its connection check (run on demand, transcript shown), and its sending
 * log. Save, Apply, Cancel and Save and add, as SPEC §7 lists them.
 */
final class AccountForm
{
    /** The page to show, or null when the request was answered already (login form, redirect). */
    public static function prepare(): ?Screen
    {
        if (!Admin::allowed('R')) {
            return null;
        }
        $t = Admin::t();
        $id = (int) ($_GET['id'] ?? 0);
        $stored = $id > 0 ? smtp34_account_get($id) : null;
        if ($id > 0 && $stored === null) {
            Admin::redirect('accounts');
            return null;
        }
        $posted = ['values' => $stored ?? Actions::NEW_ACCOUNT, 'problem' => null, 'check' => null];
        if ($_SERVER['REQUEST_METHOD'] === 'POST' && Admin::mayChange()) {
            $posted = self::post($id, $posted);
            if ($posted === null) {
                return null;
            }
        }

        $form = self::form($id);
        self::accountTab($form, $posted['values']);
        self::checkTab($form, $stored !== null, $posted['check']);
        self::logTab($form, $stored !== null ? $id : 0);
        $form->Buttons(['disabled' => Admin::right() < 'W', 'back_url' => AdminPage::url('accounts')],
            '<input type="submit" name="save_and_add" value="' . Admin::e($t->get('SAVE_AND_ADD')) . '">');

        $problem = $posted['problem'];
        $hint = $posted['hint'] ?? null;
        return new Screen($t->get($stored ? 'ACCOUNT_EDIT_TITLE' : 'ACCOUNT_ADD_TITLE'), static function () use ($problem, $hint, $form, $t): void {
            if ($problem !== null) {
                \CAdminMessage::ShowMessage(['MESSAGE' => Admin::site($problem), 'TYPE' => 'ERROR']);
            } elseif ($hint !== null) {
                \CAdminMessage::ShowNote(Admin::site($hint));
            } elseif (isset($_GET['saved'])) {
                \CAdminMessage::ShowNote(Admin::site($t->get('SAVED')));
            } elseif (isset($_GET['connected'])) {
                \CAdminMessage::ShowNote(Admin::site($t->get('OAUTH_DONE')));
            }
            $form->Show();
        });
    }

    /**
     * What a POST does: cancel, check, or save (then a redirect: null).
     * A failed save keeps what was typed, never the password.
     *
     * @param array{values: array, problem: ?string, check: ?array} $posted
     * @return array{values: array, problem: ?string, check: ?array}|null
     */
    private static function post(int $id, array $posted): ?array
    {
        $post = Admin::request($_POST);
        if (isset($post['cancel'])) {
            Admin::redirect('accounts');
            return null;
        }
        if (isset($post['check']) && $id > 0) {
            return ['check' => smtp34_account_check($id)] + $posted;
        }
        if (isset($post['fill'])) {
            // a preset fills the form; nothing is saved until the admin saves
            [$values, $hint] = Presets::fill($post, $posted['values'], Admin::t());
            return ['values' => $values, 'hint' => $hint] + $posted;
        }
        [$savedId, $problem, $values] = Actions::submitAccount($post, $id, $posted['values'], Admin::t());
        if ($savedId === null) {
            return ['values' => $values, 'problem' => $problem] + $posted;
        }
        match (true) {
            isset($post['apply']) => Admin::redirect('account_edit', ['id' => $savedId, 'saved' => 1]),
            isset($post['save_and_add']) => Admin::redirect('account_edit', ['saved' => 1]),
            default => Admin::redirect('accounts'),
        };
        return null;
    }

    private static function form(int $id): \CAdminForm
    {
        $t = Admin::t();
        $tabs = [
            ['DIV' => 'account', 'TAB' => Admin::site($t->get('ACCOUNT_PARAMS')), 'TITLE' => Admin::site($t->get('ACCOUNT_PARAMS'))],
            ['DIV' => 'check', 'TAB' => Admin::site(Admin::loc('SMTP34_TAB_CHECK')), 'TITLE' => Admin::site(Admin::loc('SMTP34_TAB_CHECK_TITLE'))],
            ['DIV' => 'log', 'TAB' => Admin::site(Admin::loc('SMTP34_TAB_LOG')), 'TITLE' => Admin::site(Admin::loc('SMTP34_TAB_LOG_TITLE'))],
        ];
        $form = new \CAdminForm('smtp34_account', $tabs);
        $form->BeginEpilogContent();
        echo bitrix_sessid_post();
        $form->EndEpilogContent();
        $form->Begin(['FORM_ACTION' => AdminPage::url('account_edit', $id > 0 ? ['id' => $id] : [])]);
        return $form;
    }

    /** @param array<string, mixed> $values */
    private static function accountTab(\CAdminForm $form, array $values): void
    {
        $t = Admin::t();
        $form->BeginNextFormTab();
        $form->BeginCustomField('preset', $t->get('PRESET'));
        echo '<tr id="tr_preset"><td class="adm-detail-content-cell-l">' . Admin::e($t->get('PRESET')) . '</td><td class="adm-detail-content-cell-r">'
            . Admin::site(Html::select('preset', Presets::choices($t), ''))
            . ' <input type="submit" name="fill" id="fill" value="' . Admin::e($t->get('PRESET_FILL')) . '"></td></tr>';
        $form->EndCustomField('preset');
        foreach (Actions::ACCOUNT_FORM as $field => [$kind, $required, $size]) {
            $label = Admin::site($t->get('FIELD_' . $field));
            $value = $values[$field] ?? '';
            match ($kind) {
                'checkbox' => $form->AddCheckBoxField($field, $label, $required, 'Y', (bool) $value),
                'select' => $form->AddDropDownField($field, $label, $required, array_map([Admin::class, 'site'], Actions::choices($field, $t)), $value),
                'password' => self::passwordField($form, $field, $label, !empty($values[Actions::SECRET_FIELDS[$field]])),
                default => $form->AddEditField($field, $label, $required, ['size' => $size], Admin::site((string) $value)),
            };
        }
        $form->AddViewField('note', '', '<small>' . Admin::e($t->get('FORM_NOTE')) . '<br>' . Admin::e($t->get('FORM_NOTE_ACTIVE')) . '</small>');
        if (($values['id'] ?? 0) > 0 && ($values['auth'] ?? '') === 'xoauth2') {
            self::oauthField($form, (int) $values['id'], $values);
        }
    }

    /** The password box: always empty (write-only), with a note when one is stored. */
    private static function passwordField(\CAdminForm $form, string $field, string $label, bool $stored): void
    {
        $t = Admin::t();
        $form->BeginCustomField($field, $label);
        echo '<tr id="tr_' . $field . '"><td class="adm-detail-content-cell-l">' . Admin::e($t->get('FIELD_' . $field)) . '</td><td class="adm-detail-content-cell-r">'
            . '<input type="password" name="' . $field . '" value="" autocomplete="new-password" size="40">'
            . ($stored ? '<br><small>' . Admin::e($t->get($field === 'password' ? 'PASSWORD_KEEP' : 'SECRET_KEEP')) . '</small>' : '') . '</td></tr>';
        $form->EndCustomField($field);
    }

    /** An OAuth account's connection and its Connect link (SPEC §9). */
    private static function oauthField(\CAdminForm $form, int $id, array $account): void
    {
        $t = Admin::t();
        [$state, $failed] = Actions::oauthState($account, $t);
        $link = AdminPage::url('oauth', ['id' => $id, 'sessid' => bitrix_sessid()]);
        $form->AddViewField('oauth_state', 'OAuth 2.0', '<span id="oauth-state"' . ($failed ? ' style="color:#b00020"' : '') . '>' . Admin::e($state) . '</span><br>'
            . '<a id="connect" class="adm-btn" href="' . Admin::e($link) . '">' . Admin::e($t->get(empty($account['oauth_connected']) ? 'OAUTH_CONNECT' : 'OAUTH_RECONNECT')) . '</a>'
            . '<br><small>' . Admin::e($t->get('OAUTH_HINT')) . ' ' . Admin::e(OAuthPage::returnUrl()) . '</small>');
    }

    /** @param ?array{ok: bool, message: string, transcript: string} $check */
    private static function checkTab(\CAdminForm $form, bool $saved, ?array $check): void
    {
        $form->BeginNextFormTab();
        if (!$saved) {
            $form->AddViewField('check_note', '', Admin::e(Admin::loc('SMTP34_CHECK_AFTER_SAVE')));
            return;
        }
        $form->AddViewField('check_run', '', '<input type="submit" name="check" value="' . Admin::e(Admin::loc('SMTP34_CHECK_NOW')) . '">');
        if ($check !== null) {
            $form->AddViewField('check_result', Admin::site(Admin::loc('SMTP34_CHECK_RESULT')),
                '<b class="' . ($check['ok'] ? 'check-ok' : 'check-failed') . '">' . Admin::e($check['message']) . '</b><pre id="check-transcript">' . Admin::e($check['transcript']) . '</pre>');
        }
    }

    /** The account's sending log, its last 20,000 bytes; `$id` 0 before it is saved. */
    private static function logTab(\CAdminForm $form, int $id): void
    {
        $form->BeginNextFormTab();
        $log = '';
        if ($id > 0 && in_array("send_$id.log", array_column(smtp34_log_list(), 'name'), true)) {
            $log = Html::logText(substr(smtp34_log_read("send_$id.log"), -20000));
        }
        $form->AddViewField('send_log', '', $log === '' ? Admin::e(Admin::loc('SMTP34_NO_LOG'))
            : '<pre id="account-log">' . Admin::e($log) . '</pre><a href="' . htmlspecialcharsbx(AdminPage::url('logs', ['view' => "send_$id.log"])) . '">' . Admin::e(Admin::t()->get('LOG_VIEW')) . '</a>');
    }
}

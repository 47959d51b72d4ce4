<?php
declare(strict_types=1);

namespace Smtp34\Admin;

/**
 * The admin pages of SPEC §7 over the extension's API, for any host: the
 * standalone router and the Bitrix module's admin pages both call these.
 * No business rule lives here: validation, checks and storage are the
 * extension's; a page only turns form fields into API calls and answers
 * (ValueError, Smtp34\Exception) into messages. The host has already
 * checked rights and the CSRF token of a POST.
 */
final class Pages
{
    /** Page name (URL or Bitrix file) → the method that renders it. */
    public const PAGES = ['dashboard' => 'dashboard', 'accounts' => 'accounts', 'account_edit' => 'accountEdit', 'settings' => 'settings', 'logs' => 'logs', 'journal' => 'journal', 'outbox' => 'outbox',
        'oauth' => 'oauth', 'dkim' => 'dkim'];

    /** The dashboard's accounts table: its columns (I18n codes) and each account's cells, as HTML. */
    public const DASHBOARD_COLUMNS = ['id' => 'COL_ID', 'email' => 'COL_EMAIL', 'active' => 'COL_ACTIVE', 'state' => 'COL_STATE',
        'today' => 'COL_TODAY', 'sent' => 'D_sent', 'queued' => 'D_queued', 'failed' => 'D_failed'];

    /** The daily counts of the last 30 days, read once per page. */
    private ?array $daily = null;


    /**
     * @param \Closure(string, array<string, string|int>): string $url page name + query → URL
     */
    public function __construct(
        private readonly I18n $t,
        private readonly \Closure $url,
        private readonly string $sessid,
        /** scheme://host[:port] of these pages: the provider sends the admin back to an absolute URL */
        private readonly string $origin = '',
    ) {
    }

    /** Renders page `$page`, one of PAGES. */
    public function show(string $page, Request $request): Response
    {
        return $this->{self::PAGES[$page]}($request);
    }

    /**
     * A row's own button, posted as `row` = "<action>:<id>" ("delete:5", "resend:5"), when its action is
     * one of `$actions`: [action, id]; null for anything else.
     *
     * @param list<string> $actions
     * @return array{0: string, 1: int}|null
     */
    private static function rowButton(Request $request, array $actions): ?array
    {
        $row = $request->post['row'] ?? null;
        if (!is_string($row) || !preg_match('/^([a-z]+):(\d+)$/', $row, $m) || !in_array($m[1], $actions, true)) {
            return null;
        }
        return [$m[1], (int) $m[2]];
    }

    private function t(string $code): string
    {
        return Html::e($this->t->get($code));
    }

    private function url(string $page, array $query = []): string
    {
        return ($this->url)($page, $query);
    }

    private function form(string $page, array $query = [], string $id = ''): string
    {
        return '<form method="post" action="' . Html::e($this->url($page, $query)) . '"' . ($id ? ' id="' . Html::e($id) . '"' : '') . '>'
            . Html::hidden('sessid', $this->sessid);
    }

    private static function error(string $text): string
    {
        return '<div class="smtp34-error" role="alert">' . Html::e($text) . '</div>';
    }

    private static function note(string $text): string
    {
        return '<div class="smtp34-note">' . Html::e($text) . '</div>';
    }

    /** The header cells of a column model of {@see Lists}: every column (this page has no column chooser). */
    private function headerCells(array $columns): string
    {
        $html = '';
        foreach ($columns as [$label]) {
            $html .= '<th>' . $this->t($label) . '</th>';
        }
        return $html;
    }

    /** A row's cells from the model's values, each with the model's class; `$open` links one to the row's page. */
    private function valueCells(array $columns, array $values, ?string $open = null, string $url = ''): string
    {
        $html = '';
        foreach ($columns as $id => [, $kind, , $class]) {
            $cell = Lists::cell($kind, $values[$id], $this->t);
            $html .= '<td class="' . $class . '">' . ($id === $open ? '<a href="' . Html::e($url) . '">' . $cell . '</a>' : $cell) . '</td>';
        }
        return $html;
    }

    // ---- SMTP accounts list ----

    public function accounts(Request $request): Response
    {
        if ($request->isPost()) {
            $ids = array_map('intval', (array) ($request->post['ids'] ?? []));
            $action = (string) ($request->post['action'] ?? '');
            if (isset($request->post['id'])) {
                $ids[] = (int) $request->post['id'];
            }
            if ($button = self::rowButton($request, ['delete', 'activate', 'deactivate'])) {
                [$action, $ids] = [$button[0], [$button[1]]];
            }
            Actions::accounts($action, $ids);
            return Response::redirect($this->url('accounts'));
        }

        $accounts = smtp34_account_list();
        $html = '<p><a class="smtp34-button" id="add-account" href="' . Html::e($this->url('account_edit')) . '">' . $this->t('ADD_ACCOUNT') . '</a></p>';
        if ($accounts === []) {
            return new Response($this->t->get('ACCOUNTS_TITLE'), $html . '<p>' . $this->t('NO_ACCOUNTS') . '</p>');
        }
        $html .= $this->form('accounts', [], 'accounts-form') . '<table class="smtp34-table" id="accounts"><thead><tr><th></th>'
            . $this->headerCells(Lists::ACCOUNTS) . '<th>' . $this->t('COL_ACTIONS') . '</th></tr></thead><tbody>';
        foreach ($accounts as $a) {
            $edit = $this->url('account_edit', ['id' => $a['id']]);
            $buttons = '';
            foreach (Lists::accountActions($a) as $action => $label) {
                $class = $action === 'delete' ? 'delete' : 'toggle';
                $buttons .= ' <button type="submit" name="row" class="' . $class . '" value="' . $action . ':' . $a['id'] . '">' . $this->t($label) . '</button>';
            }
            $html .= '<tr data-id="' . $a['id'] . '"><td><input type="checkbox" name="ids[]" value="' . $a['id'] . '"></td>'
                . $this->valueCells(Lists::ACCOUNTS, Lists::accountValues($a, $this->t), 'ID', $edit)
                . '<td><a class="edit" href="' . Html::e($edit) . '">' . $this->t('EDIT') . '</a>' . $buttons . '</td></tr>';
        }
        $html .= '</tbody></table><p>' . $this->t('FOR_SELECTED') . ': '
            . Html::select('action', ['' => '—'] + array_map(fn ($label) => $this->t->get($label), Lists::ACCOUNT_GROUP_ACTIONS), '', 'group-action')
            . ' <button type="submit" id="apply-group">' . $this->t('APPLY_ACTION') . '</button></p></form>';
        return new Response($this->t->get('ACCOUNTS_TITLE'), $html);
    }

    // ---- add / edit form ----

    public function accountEdit(Request $request): Response
    {
        $id = (int) ($request->query['id'] ?? 0);
        $stored = $id > 0 ? smtp34_account_get($id) : null;
        if ($id > 0 && $stored === null) {
            return Response::redirect($this->url('accounts'));
        }
        $values = $stored ?? Actions::NEW_ACCOUNT;
        $message = '';

        if ($request->isPost()) {
            $button = $this->pressed($request->post);
            if ($button === 'cancel') {
                return Response::redirect($this->url('accounts'));
            }
            if ($button === 'fill') {
                // a preset fills the form; nothing is saved until the admin saves
                [$values, $hint] = Presets::fill($request->post, $values, $this->t);
                $message = $hint === null ? '' : '<div class="smtp34-note" id="preset-hint">' . Html::e($hint) . '</div>';
                return $this->accountPage($id, $stored, $values, $message);
            }
            [$savedId, $problem, $values] = Actions::submitAccount($request->post, $id, $values, $this->t);
            if ($savedId !== null) {
                return Response::redirect(match ($button) {
                    'apply' => $this->url('account_edit', ['id' => $savedId, 'saved' => 1]),
                    'save_and_add' => $this->url('account_edit', ['saved' => 1]),
                    default => $this->url('accounts'),
                });
            }
            $message = self::error($problem);
        } elseif (isset($request->query['saved'])) {
            $message = self::note($this->t->get('SAVED'));
        } elseif (isset($request->query['connected'])) {
            $message = self::note($this->t->get('OAUTH_DONE'));
        }

        return $this->accountPage($id, $stored, $values, $message);
    }

    private function accountPage(int $id, ?array $stored, array $values, string $message): Response
    {
        $title = $this->t->get($stored ? 'ACCOUNT_EDIT_TITLE' : 'ACCOUNT_ADD_TITLE');
        $html = $message . '<p><a href="' . Html::e($this->url('accounts')) . '">' . $this->t('ACCOUNTS_TITLE') . '</a></p>'
            . $this->form('account_edit', $id > 0 ? ['id' => $id] : [], 'account-form')
            . '<p><label for="preset">' . $this->t('PRESET') . ':</label> ' . Html::select('preset', Presets::choices($this->t), '')
            . ' <button type="submit" name="fill" value="Y" id="fill" formnovalidate>' . $this->t('PRESET_FILL') . '</button></p>'
            . '<h2>' . $this->t('ACCOUNT_PARAMS') . '</h2><table class="smtp34-form">';
        foreach (Actions::ACCOUNT_FORM as $field => [$kind, , $size]) {
            $value = $values[$field] ?? '';
            $input = match ($kind) {
                'checkbox' => Html::checkbox($field, (bool) $value),
                'select' => Html::select($field, Actions::choices($field, $this->t), (string) $value),
                'password' => '<input type="password" name="' . $field . '" id="' . $field . '" value="" autocomplete="new-password" size="' . $size . '">',
                default => '<input type="' . $kind . '" name="' . $field . '" id="' . $field . '" value="' . Html::e((string) $value) . '" size="' . $size . '">',
            };
            $kept = $kind === 'password' && !empty($values[Actions::SECRET_FIELDS[$field] ?? '']);
            $hint = $kept ? '<br><small>' . $this->t($field === 'password' ? 'PASSWORD_KEEP' : 'SECRET_KEEP') . '</small>' : '';
            $html .= '<tr><td><label for="' . $field . '">' . $this->t('FIELD_' . $field) . ':</label></td><td>' . $input . $hint . '</td></tr>';
        }
        $html .= '</table><p class="smtp34-buttons">'
            . '<button type="submit" name="save" value="Y" id="save">' . $this->t('SAVE') . '</button> '
            . '<button type="submit" name="apply" value="Y" id="apply">' . $this->t('APPLY') . '</button> '
            . '<button type="submit" name="cancel" value="Y" id="cancel" formnovalidate>' . $this->t('CANCEL') . '</button> '
            . '<button type="submit" name="save_and_add" value="Y" id="save-and-add">' . $this->t('SAVE_AND_ADD') . '</button>'
            . '</p></form><p class="smtp34-hint">' . $this->t('FORM_NOTE') . '</p><p class="smtp34-hint">' . $this->t('FORM_NOTE_ACTIVE') . '</p>';
        if ($stored !== null && $stored['auth'] === 'xoauth2') {
            [$state, $failed] = Actions::oauthState($stored, $this->t);
            $html .= '<h2>OAuth 2.0</h2>' . ($failed ? self::error($state) : '<p id="oauth-state">' . Html::e($state) . '</p>')
                // a link, not a form: a form's redirect to the provider would break the pages' CSP form-action
                . '<p><a id="connect" href="' . Html::e($this->url('oauth', ['id' => $id, 'sessid' => $this->sessid])) . '">'
                . $this->t(empty($stored['oauth_connected']) ? 'OAUTH_CONNECT' : 'OAUTH_RECONNECT') . '</a></p>'
                . '<p class="smtp34-hint">' . $this->t('OAUTH_HINT') . ' <code>' . Html::e($this->origin . $this->url('oauth')) . '</code></p>';
        }
        return new Response($title, $html);
    }

    /**
     * OAuth 2.0 (SPEC §9): the Connect link (`id`, its `sessid` checked by
     * the host) goes to the provider; the provider's way back (state and
     * code, the one-time state being the check) finishes the flow.
     */
    public function oauth(Request $request): Response
    {
        if (isset($request->query['id'])) {
            $id = (int) ($request->query['id'] ?? 0);
            try {
                return Response::redirect(smtp34_oauth_start($id, $this->origin . $this->url('oauth')));
            } catch (\Smtp34\Exception|\ValueError $e) {
                return new Response('OAuth 2.0', self::error($this->t->get('OAUTH_FAILED') . ' ' . $e->getMessage()), 400);
            }
        }
        [$id, $problem] = Actions::finishOAuth($request->query, $this->t);
        if ($id === null) {
            return new Response('OAuth 2.0', self::error((string) $problem) . '<p><a href="' . Html::e($this->url('accounts')) . '">' . $this->t('ACCOUNTS_TITLE') . '</a></p>', 400);
        }
        return Response::redirect($this->url('account_edit', ['id' => $id, 'connected' => 1]));
    }

    private function pressed(array $post): string
    {
        foreach (['cancel', 'fill', 'apply', 'save_and_add', 'save'] as $button) {
            if (isset($post[$button])) {
                return $button;
            }
        }
        return 'save';
    }

    // ---- settings ----

    public function settings(Request $request): Response
    {
        $message = '';
        $current = smtp34_settings();
        if ($request->isPost()) {
            [$current, $problem] = Actions::saveSettings($request->post);
            if ($problem === null) {
                return Response::redirect($this->url('settings', ['saved' => 1]));
            }
            $message = self::error($this->t->get('INVALID_FIELD') . ' ' . $problem);
        } elseif (isset($request->query['saved'])) {
            $message = self::note($this->t->get('SAVED'));
        }

        $html = $message . $this->form('settings', [], 'settings-form') . '<table class="smtp34-form">';
        foreach ($current as $key => $value) {
            $input = Html::settingInput($key, $value, $this->t);
            $html .= '<tr><td><label for="' . $key . '">' . $this->t("SET_$key") . ':</label></td><td>' . $input
                . '<br><small>' . $this->t("SET_{$key}_HELP") . '</small></td></tr>';
        }
        $html .= '</table><p><button type="submit" name="save" value="Y" id="save">' . $this->t('SAVE') . '</button></p></form>';
        return new Response($this->t->get('SETTINGS_TITLE'), $html);
    }

    // ---- logs ----

    public function logs(Request $request): Response
    {
        if ($request->isPost()) {
            Actions::deleteLogs([$request->post['name'] ?? '']);
            return Response::redirect($this->url('logs'));
        }
        if (isset($request->query['view'])) {
            return $this->viewLog((string) $request->query['view']);
        }
        $logs = smtp34_log_list();
        if ($logs === []) {
            return new Response($this->t->get('LOGS_TITLE'), '<p>' . $this->t('NO_LOGS') . '</p>');
        }
        $accounts = array_column(smtp34_account_list(), null, 'id');
        $html = '<table class="smtp34-table" id="logs"><thead><tr>' . $this->headerCells(Lists::LOGS) . '<th>' . $this->t('COL_ACTIONS') . '</th></tr></thead><tbody>';
        foreach ($logs as $log) {
            $view = $this->url('logs', ['view' => $log['name']]);
            $html .= '<tr data-name="' . Html::e($log['name']) . '">'
                . $this->valueCells(Lists::LOGS, Lists::logValues($log, $accounts[$log['account_id']] ?? null, $this->t), 'NAME', $view)
                . '<td><a class="view" href="' . Html::e($view) . '">' . $this->t('LOG_VIEW') . '</a> '
                . $this->form('logs') . Html::hidden('name', $log['name'])
                . '<button type="submit" class="delete">' . $this->t('DELETE') . '</button></form></td></tr>';
        }
        return new Response($this->t->get('LOGS_TITLE'), $html . '</tbody></table>');
    }

    private function viewLog(string $name): Response
    {
        $back = '<p><a href="' . Html::e($this->url('logs')) . '">' . $this->t('BACK_TO_LOGS') . '</a></p>';
        try {
            $text = smtp34_log_read($name);
        } catch (\ValueError | \Smtp34\Exception $e) {
            return new Response($this->t->get('LOGS_TITLE'), $back . self::error($e->getMessage()), 404);
        }
        return new Response($name, $back . '<pre class="smtp34-log" id="log-text">' . Html::e(Html::logText($text)) . '</pre>');
    }

    // ---- outbox ----

    public function outbox(Request $request): Response
    {
        if ($request->isPost()) {
            if (($request->post['action'] ?? '') === 'flush') {
                $report = Actions::flushOutbox();
                return Response::redirect($this->url('outbox', ['sent' => $report['sent'], 'failed' => $report['failed'], 'left' => $report['left']]));
            }
            if ($button = self::rowButton($request, ['delete'])) {
                Actions::deleteLetters([$button[1]]);
            }
            return Response::redirect($this->url('outbox'));
        }
        $html = '';
        if (isset($request->query['sent'])) {
            $html .= self::note(sprintf($this->t->get('OUTBOX_FLUSHED'), (int) $request->query['sent'], (int) ($request->query['failed'] ?? 0), (int) ($request->query['left'] ?? 0)));
        }
        $letters = smtp34_outbox_list();
        $html .= '<p class="smtp34-hint">' . $this->t('OUTBOX_HINT') . '</p>' . $this->form('outbox', [], 'outbox-form')
            . '<p><button type="submit" name="action" value="flush" id="send-now">' . $this->t('OUTBOX_SEND_NOW') . '</button></p>';
        if ($letters === []) {
            return new Response($this->t->get('OUTBOX_TITLE'), $html . '<p>' . $this->t('NO_OUTBOX') . '</p></form>');
        }
        $html .= '<table class="smtp34-table" id="outbox"><thead><tr>' . $this->headerCells(Lists::OUTBOX) . '<th>' . $this->t('COL_ACTIONS') . '</th></tr></thead><tbody>';
        foreach ($letters as $l) {
            $html .= '<tr data-id="' . $l['id'] . '">' . $this->valueCells(Lists::OUTBOX, Lists::outboxValues($l))
                . '<td><button type="submit" name="row" class="delete" value="delete:' . $l['id'] . '">' . $this->t('DELETE') . '</button></td></tr>';
        }
        return new Response($this->t->get('OUTBOX_TITLE'), $html . '</tbody></table></form>');
    }

    // ---- DKIM keys ----

    public function dkim(Request $request): Response
    {
        $problem = null;
        if ($request->isPost()) {
            if (isset($request->post['add'])) {
                [$id, $problem] = Dkim::add($request->post, $this->t);
                if ($id !== null) {
                    return Response::redirect($this->url('dkim', ['added' => $id]));
                }
            } else {
                $action = (string) ($request->post['action'] ?? '');
                $ids = array_map('intval', (array) ($request->post['ids'] ?? []));
                if ($button = self::rowButton($request, ['delete', 'activate', 'deactivate'])) {
                    [$action, $ids] = [$button[0], [$button[1]]];
                }
                Dkim::act($action, $ids);
                return Response::redirect($this->url('dkim'));
            }
        }
        $keys = smtp34_dkim_list();
        $check = isset($request->query['check']);
        $html = ($problem !== null ? self::error($problem) : (isset($request->query['added']) ? self::note($this->t->get('DK_ADDED')) : ''))
            . $this->unsignedNote(Dkim::unsignedDomains(Dkim::recentLetters(), $keys))
            . '<p class="smtp34-hint">' . $this->t('DK_HINT') . '</p>';
        if ($keys === []) {
            $html .= '<p id="dkim-empty">' . $this->t('DK_NONE') . '</p>';
        } else {
            $html .= '<p><a id="check-dns" href="' . Html::e($this->url('dkim', ['check' => 1])) . '">' . $this->t('DK_CHECK_DNS') . '</a></p>'
                . $this->form('dkim', [], 'dkim-form') . '<table class="smtp34-table" id="dkim"><thead><tr><th></th>'
                . $this->headerCells(Dkim::COLUMNS) . '<th>' . $this->t('COL_ACTIONS') . '</th></tr></thead><tbody>';
            foreach ($keys as $key) {
                $buttons = '';
                foreach ([$key['active'] ? 'deactivate' : 'activate', 'delete'] as $action) {
                    $buttons .= ' <button type="submit" name="row" class="' . $action . '" value="' . $action . ':' . $key['id'] . '">' . $this->t(Dkim::GROUP_ACTIONS[$action]) . '</button>';
                }
                $html .= '<tr data-id="' . $key['id'] . '"><td><input type="checkbox" name="ids[]" value="' . $key['id'] . '"></td>'
                    . $this->valueCells(Dkim::COLUMNS, Dkim::values($key, $check ? Dkim::dnsState($key) : null)) . '<td>' . $buttons . '</td></tr>';
            }
            $html .= '</tbody></table><p>' . $this->t('FOR_SELECTED') . ': '
                . Html::select('action', ['' => '—'] + array_map(fn ($label) => $this->t->get($label), Dkim::GROUP_ACTIONS), '', 'group-action')
                . ' <button type="submit" id="apply-group">' . $this->t('APPLY_ACTION') . '</button></p></form>';
        }
        $posted = $request->isPost() ? $request->post : [];
        $field = fn (string $name, int $size) => '<input type="text" name="' . $name . '" id="dkim-' . $name . '" size="' . $size . '" value="' . Html::e((string) ($posted[$name] ?? '')) . '">';
        $html .= '<h2>' . $this->t('DK_ADD') . '</h2>' . $this->form('dkim', [], 'dkim-add') . '<table class="smtp34-form">'
            . '<tr><td><label for="dkim-domain">' . $this->t('DK_domain') . ':</label></td><td>' . $field('domain', 30) . '</td></tr>'
            . '<tr><td><label for="dkim-selector">' . $this->t('DK_selector') . ':</label></td><td>' . $field('selector', 20) . '</td></tr>'
            . '<tr><td><label for="dkim-source">' . $this->t('DK_SOURCE') . ':</label></td><td>'
            . Html::select('source', array_map(fn ($label) => $this->t->get($label), Dkim::SOURCES), (string) ($posted['source'] ?? 'rsa-2048'), 'dkim-source') . '</td></tr>'
            . '<tr><td><label for="dkim-private_key">' . $this->t('DK_PEM') . ':</label></td><td><textarea name="private_key" id="dkim-private_key" rows="6" cols="66" autocomplete="off"></textarea></td></tr>'
            . '</table><p><button type="submit" name="add" value="Y" id="dkim-add-button">' . $this->t('DK_ADD_BUTTON') . '</button></p></form>';
        return new Response($this->t->get('DK_TITLE'), $html);
    }

    /** @param array<string, int> $domains From domains no key signs => letters */
    private function unsignedNote(array $domains): string
    {
        if ($domains === []) {
            return '';
        }
        $list = implode(', ', array_map(static fn ($d, $n) => "$d ($n)", array_keys($domains), $domains));
        return '<div class="smtp34-error" role="alert" id="dkim-unsigned">' . Html::e(sprintf($this->t->get('DK_UNSIGNED'), Dkim::RECENT_DAYS, $list)) . '</div>';
    }

    // ---- journal ----

    public function journal(Request $request): Response
    {
        if ($request->isPost()) {
            $ids = array_map('intval', (array) ($request->post['ids'] ?? []));
            if ($button = self::rowButton($request, ['resend'])) {
                $ids = [$button[1]];
            }
            [$queued, $problems] = Actions::resend($ids, (string) ($request->post['to'] ?? ''));
            return Response::redirect($this->url('journal', array_filter($request->query, 'is_string') + ['resent' => $queued] + ($problems ? ['problem' => implode('; ', $problems)] : [])));
        }
        $filter = Journal::filterFrom($request->query);
        $before = max(0, (int) ($request->query['before'] ?? 0));
        $bound = Journal::textBound($filter, $before);
        $window = Journal::window($filter, $before, $bound);
        $found = Journal::page($window, (int) ($request->query['page'] ?? 1));
        $query = array_filter($filter, static fn ($v) => $v !== '') + ($before > 0 ? ['before' => $before] : []);
        $html = (isset($request->query['resent']) ? self::note(sprintf($this->t->get('J_RESENT'), (int) $request->query['resent'])) : '')
            . (isset($request->query['problem']) ? self::error($this->t->get('J_RESEND_FAILED') . ' ' . (string) $request->query['problem']) : '')
            . $this->journalFilter($filter) . $this->windowLinks($window, $before, $bound, array_filter($filter, static fn ($v) => $v !== ''));
        if ($found['total'] === 0) {
            $nothing = $before === 0 && $filter === Journal::filterFrom([]) ? 'NO_JOURNAL' : 'J_NOTHING_FOUND';
            return new Response($this->t->get('JOURNAL_TITLE'), $html . '<p id="journal-empty">' . $this->t($nothing) . '</p>');
        }
        $html .= '<p id="journal-count">' . Html::e(sprintf($this->t->get('J_FOUND'), $found['total'])) . '</p>'
            . $this->form('journal', array_filter($request->query, 'is_string'), 'journal-form') . '<table class="smtp34-table" id="journal"><thead><tr><th></th>'
            . $this->headerCells(Lists::JOURNAL) . '</tr></thead><tbody>';
        foreach ($found['rows'] as $row) {
            $box = $row['kept'] ? '<input type="checkbox" name="ids[]" value="' . $row['id'] . '">' : '';
            $html .= '<tr class="status-' . Html::e($row['status']) . '" data-id="' . $row['id'] . '"><td>' . $box . '</td>'
                . $this->valueCells(Lists::JOURNAL, Lists::journalValues($row)) . '</tr>';
        }
        $html .= '</tbody></table><p>' . $this->t('FOR_SELECTED') . ': <button type="submit" name="action" value="resend" id="resend">' . $this->t('J_RESEND') . '</button> '
            . '<label>' . $this->t('J_RESEND_TO') . ' <input type="text" name="to" id="resend-to" size="30"></label></p></form>';
        return new Response($this->t->get('JOURNAL_TITLE'), $html . $this->pager($found, $query));
    }

    /** Says how far back this window reaches, with links to the next older one and back to the newest. */
    private function windowLinks(array $window, int $before, ?int $bound, array $filter): string
    {
        $note = Journal::windowNote($window, $bound, $this->t);
        $next = Journal::nextBefore($window, $bound);
        $links = [];
        if ($before > 0) {
            $links[] = '<a id="journal-newest" href="' . Html::e($this->url('journal', $filter)) . '">' . $this->t('J_NEWEST') . '</a>';
        }
        if ($next !== null) {
            $links[] = '<a id="journal-older" href="' . Html::e($this->url('journal', $filter + ['before' => $next])) . '">' . $this->t('J_OLDER') . '</a>';
        }
        if ($note === null && $links === []) {
            return '';
        }
        return '<p class="smtp34-hint" id="window-note">' . ($note === null ? '' : Html::e($note) . ' ') . implode(' ', $links) . '</p>';
    }

    private function journalFilter(array $filter): string
    {
        $statuses = Journal::statusOptions($this->t);
        $accounts = Journal::accountOptions($this->t);
        $date = fn (string $name) => '<input type="date" name="' . $name . '" id="filter-' . $name . '" value="' . Html::e($filter[$name]) . '">';
        return '<form method="get" action="' . Html::e($this->url('journal')) . '" id="journal-filter" class="smtp34-filter">'
            . '<label>' . $this->t('J_status') . ' ' . Html::select('status', $statuses, $filter['status'], 'filter-status') . '</label> '
            . '<label>' . $this->t('J_account') . ' ' . Html::select('account', $accounts, $filter['account'], 'filter-account') . '</label> '
            . '<label>' . $this->t('J_DATE_FROM') . ' ' . $date('from') . '</label> '
            . '<label>' . $this->t('J_DATE_TO') . ' ' . $date('to') . '</label> '
            . '<label>' . $this->t('J_TEXT') . ' <input type="search" name="text" id="filter-text" value="' . Html::e($filter['text']) . '" size="24"></label> '
            . '<button type="submit" id="filter-apply">' . $this->t('J_FILTER') . '</button> '
            . '<a href="' . Html::e($this->url('journal')) . '" id="filter-reset">' . $this->t('J_RESET') . '</a></form>';
    }

    /** @param array{page: int, pages: int} $found */
    private function pager(array $found, array $query): string
    {
        if ($found['pages'] < 2) {
            return '';
        }
        $html = '<p class="smtp34-pager" id="pager">';
        for ($page = 1; $page <= $found['pages']; $page++) {
            $html .= $page === $found['page'] ? '<strong>' . $page . '</strong> '
                : '<a href="' . Html::e($this->url('journal', $query + ['page' => $page])) . '">' . $page . '</a> ';
        }
        return $html . '</p>';
    }

    // ---- dashboard ----

    public function dashboard(Request $request): Response
    {
        $html = $this->dashboardSummary();
        $html .= '<h2>' . $this->t('D_ACCOUNTS') . '</h2><table class="smtp34-table" id="dashboard-accounts"><thead><tr>';
        foreach (self::DASHBOARD_COLUMNS as $col) {
            $html .= '<th>' . $this->t($col) . '</th>';
        }
        $html .= '</tr></thead><tbody>';
        foreach ($this->dashboardAccounts() as $id => $cells) {
            $html .= '<tr data-id="' . $id . '">';
            foreach ($cells as $class => $cell) {
                $html .= '<td class="' . $class . '">' . $cell . '</td>';
            }
            $html .= '</tr>';
        }
        return new Response($this->t->get('DASHBOARD_TITLE'), $html . '</tbody></table>' . $this->dashboardAlerts());
    }

    /** The journal of alerts' columns (I18n codes), for both hosts. */
    public const ALERT_COLUMNS = ['time' => 'D_A_TIME', 'event' => 'D_A_EVENT', 'account' => 'D_A_ACCOUNT', 'text' => 'D_A_TEXT', 'went' => 'D_A_WENT'];

    /**
     * The journal of alerts, newest first: the last lines of the alerts log (alerts_0.log, one
     * tab-separated line an alert: time, event, account, where it went, text).
     *
     * @return list<array{time: string, event: string, account: string, text: string, went: string, failed: bool}>
     */
    public static function alerts(int $most = 20): array
    {
        try {
            $log = smtp34_log_read('alerts_0.log');
        } catch (\Smtp34\Exception $e) {
            return [];   // none raised yet
        }
        $alerts = [];
        foreach (array_reverse(explode("\n", $log)) as $line) {
            $cells = $line === '' || $line[0] === '#' ? [] : explode("\t", $line, 5);
            if (count($cells) === 5) {
                [$time, $event, $account, $went, $text] = $cells;
                $alerts[] = ['time' => $time, 'event' => $event, 'account' => $account, 'text' => $text, 'went' => $went, 'failed' => str_contains($went, 'failed')];
            }
            if (count($alerts) === $most) {
                break;
            }
        }
        return $alerts;
    }

    /** The style attribute of an alert's cell in `$column` (of ALERT_COLUMNS): where it went, in red when that failed. */
    public static function alertStyle(array $alert, string $column): string
    {
        return $column === 'went' && $alert['failed'] ? ' style="color:' . Journal::COLOURS['failed'] . ';font-weight:bold"' : '';
    }

    /** The journal of alerts as the standalone dashboard shows it, a failed webhook in red. */
    public function dashboardAlerts(): string
    {
        $alerts = self::alerts();
        $html = '<h2>' . $this->t('D_ALERTS') . '</h2>';
        if ($alerts === []) {
            return $html . '<p id="dashboard-alerts-none">' . $this->t('D_NO_ALERTS') . '</p>';
        }
        $html .= '<table class="smtp34-table" id="dashboard-alerts"><thead><tr>';
        foreach (self::ALERT_COLUMNS as $code) {
            $html .= '<th>' . $this->t($code) . '</th>';
        }
        $html .= '</tr></thead><tbody>';
        foreach ($alerts as $alert) {
            $html .= '<tr data-event="' . Html::e($alert['event']) . '"' . ($alert['failed'] ? ' class="failed"' : '') . '>';
            foreach (array_keys(self::ALERT_COLUMNS) as $column) {
                $html .= '<td class="' . $column . '"' . self::alertStyle($alert, $column) . '>' . Html::e($alert[$column]) . '</td>';
            }
            $html .= '</tr>';
        }
        return $html . '</tbody></table>';
    }

    /** The totals, the chart over 30 days and, when the window is short, a note: the dashboard above its accounts. */
    public function dashboardSummary(): string
    {
        $this->daily ??= Journal::dailyCounts(30, time());
        $labels = array_combine(array_keys(Journal::OUTCOMES), array_map(fn ($o) => $this->t->get("D_$o"), array_keys(Journal::OUTCOMES)));
        $totals = array_fill_keys(array_keys(Journal::OUTCOMES), 0);
        foreach ($this->daily['days'] as $counts) {
            foreach ($counts as $outcome => $n) {
                $totals[$outcome] += $n;
            }
        }
        $html = '<p class="smtp34-totals" id="totals">';
        foreach ($totals as $outcome => $n) {
            $html .= '<span class="total ' . $outcome . '"><span class="swatch" style="background:' . Journal::COLOURS[$outcome] . '"></span> ' . Html::e($labels[$outcome]) . ': <strong>' . $n . '</strong></span> &nbsp; ';
        }
        $html .= '<span class="total outbox">' . $this->t('D_OUTBOX') . ': <a href="' . Html::e($this->url('outbox')) . '"><strong id="outbox-size">' . count(smtp34_outbox_list()) . '</strong></a></span></p>'
            . '<h2>' . $this->t('D_PER_DAY') . '</h2>' . Journal::chart($this->daily['days'], $labels);
        return $html;
    }

    /** @return array<int, array<string, string>> account id → column (DASHBOARD_COLUMNS' keys) → cell HTML */
    public function dashboardAccounts(): array
    {
        $this->daily ??= Journal::dailyCounts(30, time());
        $empty = array_fill_keys(array_keys(Journal::OUTCOMES), 0);
        $rows = [];
        foreach (smtp34_account_list() as $a) {
            $counts = $this->daily['accounts'][(string) $a['id']] ?? $empty;
            $rows[$a['id']] = ['id' => (string) $a['id'], 'email' => Html::e($a['email']), 'active' => $this->t($a['active'] ? 'YES' : 'NO'),
                'state' => Health::html($a, $this->t), 'today' => Html::e(Lists::usage($a, $this->t)),
                'sent' => (string) $counts['sent'], 'queued' => (string) $counts['queued'], 'failed' => (string) $counts['failed']];
        }
        return $rows;
    }
}

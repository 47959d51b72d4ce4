<?php
declare(strict_types=1);

namespace Smtp34\Admin;

/**
 * What the admin's forms and buttons do, for every host (the standalone
 * pages and the Bitrix module's lists and forms): form fields in, API calls
 * out, the API's refusals as the admin's words. The host has already checked
 * rights and the CSRF token.
 */
final class Actions
{
    /**
     * The account form, the same on every host: each field in order (the
     * API's names), as [kind, required, size, choices (value => label key)].
     * The password is write-only: its box is always empty.
     */
    public const ACCOUNT_FORM = [
        'active' => ['checkbox', false, 0, []],
        'name' => ['text', false, 40, []],
        'email' => ['text', true, 40, []],
        'host' => ['text', true, 40, []],
        'port' => ['number', true, 6, []],
        'security' => ['select', true, 0, ['none' => 'SECURITY_none', 'ssl' => 'SECURITY_ssl', 'starttls' => 'SECURITY_starttls']],
        'verify_tls' => ['checkbox', false, 0, []],
        'auth' => ['select', true, 0, ['none' => 'AUTH_none', 'login' => 'AUTH_login', 'xoauth2' => 'AUTH_xoauth2']],
        'login' => ['text', false, 40, []],
        'password' => ['password', false, 40, []],
        'oauth_provider' => ['select', false, 0, ['microsoft' => 'PROVIDER_microsoft', 'google' => 'PROVIDER_google', 'yandex' => 'PROVIDER_yandex',
            'mailru' => 'PROVIDER_mailru', 'custom' => 'PROVIDER_custom']],
        'oauth_client_id' => ['text', false, 40, []],
        'oauth_client_secret' => ['password', false, 40, []],
        'oauth_tenant' => ['text', false, 40, []],
        'oauth_authorize_url' => ['text', false, 60, []],
        'oauth_token_url' => ['text', false, 60, []],
        'oauth_scope' => ['text', false, 60, []],
        'mailing_first' => ['checkbox', false, 0, []],
        'daily_limit' => ['number', false, 6, []],
        'hourly_limit' => ['number', false, 6, []],
        'minute_limit' => ['number', false, 6, []],
    ];
    /** Account fields as the forms carry them (the API's names). */
    public const ACCOUNT_FIELDS = ['active', 'name', 'email', 'host', 'port', 'security', 'auth', 'login', 'password', 'mailing_first', 'verify_tls', 'daily_limit',
        'hourly_limit', 'minute_limit', 'oauth_provider', 'oauth_client_id', 'oauth_client_secret', 'oauth_tenant', 'oauth_authorize_url', 'oauth_token_url', 'oauth_scope'];
    /** Write-only fields: never shown again, kept when left empty. */
    public const SECRET_FIELDS = ['password' => 'has_password', 'oauth_client_secret' => 'has_client_secret'];
    public const BOOLEAN_FIELDS = ['active', 'mailing_first', 'verify_tls'];

    /**
     * The account form posted with Save, Apply or Save and add: the account
     * saved after its check, or why not and what to show again (what was
     * typed, an unticked box unticked, never the password).
     *
     * @return array{0: ?int, 1: ?string, 2: array<string, mixed>} saved id, problem, values to show
     */
    public static function submitAccount(array $post, int $id, array $values, I18n $t): array
    {
        $fields = self::accountFields($post);
        [$savedId, $problem] = self::saveAccount($fields, $id, $t);
        $values = array_merge($values, array_diff_key($fields, self::SECRET_FIELDS));
        foreach (self::BOOLEAN_FIELDS as $flag) {
            $values[$flag] = ($post[$flag] ?? 'N') === 'Y';
        }
        return [$savedId, $problem, $values];
    }

    /** A choice field's options as the admin reads them. */
    public static function choices(string $field, I18n $t): array
    {
        return array_map(static fn ($label) => $t->get($label), self::ACCOUNT_FORM[$field][3]);
    }
    public const ACCOUNT_ACTIONS = ['activate', 'deactivate', 'delete'];
    /** What the form shows for an account not saved yet. */
    public const NEW_ACCOUNT = ['active' => true, 'name' => '', 'email' => '', 'host' => '', 'port' => 465, 'security' => 'ssl', 'auth' => 'login', 'login' => '',
        'mailing_first' => false, 'verify_tls' => true, 'daily_limit' => 0, 'hourly_limit' => 0, 'minute_limit' => 0, 'has_password' => false, 'oauth_provider' => 'microsoft'];

    /**
     * What the form says of an OAuth account's connection: connected (and
     * until when its token is fresh), failed (reconnect), or not yet.
     *
     * @return array{0: string, 1: bool} the text and whether it is an error
     */
    public static function oauthState(array $account, I18n $t): array
    {
        if (($account['auth'] ?? '') !== 'xoauth2') {
            return ['', false];
        }
        if (($account['oauth_error'] ?? '') !== '') {
            return [$t->get('OAUTH_FAILED') . ' ' . $account['oauth_error'], true];
        }
        if (!empty($account['oauth_connected'])) {
            $until = isset($account['oauth_expires_at']) ? date('Y-m-d H:i', (int) $account['oauth_expires_at']) : '—';
            return [sprintf($t->get('OAUTH_CONNECTED'), (string) $account['login'], $until), false];
        }
        return [$t->get('OAUTH_NOT_CONNECTED'), false];
    }

    /**
     * scheme://host[:port] of the request, for the absolute URL the OAuth
     * provider sends the admin back to; the Host header keeps only the
     * characters a host and port can have.
     */
    public static function origin(array $server, string $defaultHost): string
    {
        $scheme = !empty($server['HTTPS']) && $server['HTTPS'] !== 'off' ? 'https' : 'http';
        return $scheme . '://' . preg_replace('/[^\w.:\[\]-]/', '', (string) ($server['HTTP_HOST'] ?? $defaultHost));
    }

    /**
     * The way back from the provider: finishes the flow.
     *
     * @return array{0: ?int, 1: ?string} the connected account, or why not
     */
    public static function finishOAuth(array $query, I18n $t): array
    {
        if (isset($query['error'])) {
            return [null, $t->get('OAUTH_DENIED') . ' ' . (string) $query['error'] . ' ' . (string) ($query['error_description'] ?? '')];
        }
        try {
            return [smtp34_oauth_finish((string) ($query['state'] ?? ''), (string) ($query['code'] ?? '')), null];
        } catch (\Smtp34\Exception|\ValueError $e) {
            return [null, $t->get('OAUTH_FAILED') . ' ' . $e->getMessage()];
        }
    }

    /** delete, activate or deactivate the accounts `$ids`. */
    public static function accounts(string $action, array $ids): void
    {
        foreach (array_unique(array_map('intval', $ids)) as $id) {
            match ($action) {
                'delete' => smtp34_account_delete($id),
                'activate' => smtp34_account_save(['id' => $id, 'active' => true], false),
                'deactivate' => smtp34_account_save(['id' => $id, 'active' => false], false),
                default => null,
            };
        }
    }

    /** The API's account array from a form: known fields only, checkboxes (Y/N) as booleans. */
    public static function accountFields(array $post): array
    {
        $fields = [];
        foreach (self::ACCOUNT_FIELDS as $field) {
            if (!array_key_exists($field, $post) || is_array($post[$field])) {
                continue;
            }
            $value = (string) $post[$field];
            $fields[$field] = in_array($field, self::BOOLEAN_FIELDS, true) ? $value === 'Y' : $value;
        }
        return $fields;
    }

    /**
     * Saves an account after its check (`$id` 0: a new one).
     *
     * @return array{0: ?int, 1: ?string} the saved id, or the reason it was not saved
     */
    public static function saveAccount(array $fields, int $id, I18n $t): array
    {
        if ($id > 0) {
            $fields['id'] = $id;
        }
        try {
            return [smtp34_account_save($fields, true), null];
        } catch (\ValueError $e) {
            return [null, $t->get('INVALID_FIELD') . ' ' . $e->getMessage()];
        } catch (\Smtp34\Exception $e) {
            // "not saved" in the admin's language, then the server's own words
            return [null, $t->get('CHECK_FAILED') . ' ' . preg_replace('/^account check failed, nothing saved: /', '', $e->getMessage())];
        }
    }

    /**
     * Applies the posted settings (only known keys; checkboxes Y/N).
     *
     * @return array{0: array, 1: ?string} the settings as asked, and why they were refused if they were
     */
    public static function saveSettings(array $post): array
    {
        $current = smtp34_settings();
        $changes = [];
        foreach ($current as $key => $value) {
            if (array_key_exists($key, $post) && !is_array($post[$key])) {
                $posted = (string) $post[$key];
                $changes[$key] = is_bool($value) ? $posted === 'Y' : $posted;
            }
        }
        try {
            return [smtp34_settings($changes), null];
        } catch (\ValueError $e) {
            return [array_merge($current, $changes), $e->getMessage()];
        }
    }

    /** @return array{sent: int, failed: int, left: int} */
    public static function flushOutbox(): array
    {
        return smtp34_outbox_flush(100, true);
    }

    /**
     * Resends the kept letters `$ids` (SPEC §6), to their own recipients or
     * only to `$to`: each goes into the outbox, so a thousand return at once.
     *
     * @return array{0: int, 1: list<string>} how many were queued, and why others were not
     */
    public static function resend(array $ids, string $to): array
    {
        $queued = 0;
        $problems = [];
        foreach (array_unique(array_map('intval', $ids)) as $id) {
            try {
                smtp34_journal_resend($id, trim($to));
                $queued++;
            } catch (\Smtp34\Exception|\ValueError $e) {
                $problems[$e->getMessage()] = true;
            }
        }
        return [$queued, array_keys($problems)];
    }

    public static function deleteLetters(array $ids): void
    {
        foreach (array_unique(array_map('intval', $ids)) as $id) {
            smtp34_outbox_delete($id);
        }
    }

    public static function deleteLogs(array $names): void
    {
        foreach ($names as $name) {
            try {
                smtp34_log_delete((string) $name);
            } catch (\ValueError) {
                // not one of our logs: nothing to delete
            }
        }
    }

    /**
     * What "delete the data" on uninstall removes through the API: every
     * account (with its encrypted password), every waiting letter, every log, every DKIM
     * key, and smtp34 is turned off (letters go to PHP's mail()). Journal rows have
     * no delete call; they leave with `journal_days`.
     */
    public static function eraseData(): void
    {
        foreach (smtp34_account_list() as $account) {
            smtp34_account_delete($account['id']);
        }
        self::deleteLetters(array_column(smtp34_outbox_list(), 'id'));
        self::deleteLogs(array_column(smtp34_log_list(), 'name'));
        foreach (smtp34_dkim_list() as $key) {
            smtp34_dkim_delete($key['id']);
        }
        smtp34_settings(['enabled' => false]);
    }
}

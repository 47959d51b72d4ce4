<?php
declare(strict_types=1);

namespace Smtp34\Admin;

/**
 * What each admin list shows, defined once for both hosts (the standalone
 * pages and Bitrix's CAdminList): its columns in order, each with its label,
 * how its values read (its kind), the row key it sorts by and the CSS class
 * the standalone page gives its cells; each row's values; and what an admin
 * with the right to change may do to a row or to several. A host only
 * renders: {@see Lists::cell()} turns a value of a kind into HTML, the same
 * for both, but for a journal status, which Bitrix shows in words.
 */
final class Lists
{
    /** A column: [label key, kind, sort key or null, standalone CSS class, shown by default]. */
    public const ACCOUNTS = [
        'ID' => ['COL_ID', 'int', 'id', 'id', true],
        'ACTIVE' => ['COL_ACTIVE', 'yesno', 'active', 'active', true],
        'NAME' => ['COL_NAME', 'text', 'name', 'name', true],
        'EMAIL' => ['COL_EMAIL', 'text', 'email', 'email', true],
        'HOST' => ['COL_SERVER', 'text', 'host', 'host', true],
        'PORT' => ['COL_PORT', 'int', null, 'port', true],
        'SECURITY' => ['COL_SECURITY', 'security', null, 'security', true],
        'AUTH' => ['COL_AUTH', 'yesno', null, 'auth', true],
        'STATE' => ['COL_STATE', 'health', 'failures', 'state', true],
        'SENT_TODAY' => ['COL_TODAY', 'text', 'sent_today', 'today', true],
    ];

    /** What W may do to several accounts at once. */
    public const ACCOUNT_GROUP_ACTIONS = ['activate' => 'ACTIVATE', 'deactivate' => 'DEACTIVATE', 'delete' => 'DELETE'];

    public const OUTBOX = [
        'ID' => ['O_id', 'int', 'id', 'id', true],
        'CREATED_AT' => ['O_created', 'date', 'created_at', 'created', true],
        'ACCOUNT_ID' => ['O_account', 'account', null, 'account', true],
        'FROM' => ['O_from', 'text', null, 'from', true],
        'RECIPIENTS' => ['O_recipients', 'text', null, 'recipients', true],
        'SUBJECT' => ['O_subject', 'text', null, 'subject', true],
        'SIZE' => ['O_size', 'bytes', 'size', 'size', true],
        'ATTEMPTS' => ['O_attempts', 'int', 'attempts', 'attempts', true],
        'NEXT_TRY_AT' => ['O_next_try', 'next_try', null, 'next-try', true],
        'LAST_ERROR' => ['O_last_error', 'text', null, 'last-error', true],
    ];

    public const OUTBOX_GROUP_ACTIONS = ['delete' => 'DELETE'];

    public const LOGS = [
        'ACCOUNT' => ['LOG_ACCOUNT', 'text', null, 'account', true],
        'KIND' => ['LOG_KIND', 'log_kind', null, 'kind', true],
        'NAME' => ['LOG_FILE', 'text', null, 'name', true],
        'MODIFIED' => ['LOG_MODIFIED', 'date', 'modified', 'modified', true],
        'SIZE' => ['LOG_SIZE', 'bytes', 'size', 'size', true],
    ];

    public const LOG_GROUP_ACTIONS = ['delete' => 'DELETE'];

    public const JOURNAL = [
        'ID' => ['COL_ID', 'int', 'id', 'id', true],
        'TIME' => ['J_time', 'date', 'time', 'time', true],
        'STATUS' => ['J_status', 'status', null, 'status', true],
        'ACCOUNT_ID' => ['J_account', 'account', null, 'account', true],
        'MAILING_ID' => ['J_mailing', 'text', null, 'mailing', true],
        'FROM' => ['J_from', 'text', null, 'from', true],
        'RECIPIENTS' => ['J_recipients', 'text', null, 'recipients', true],
        'SUBJECT' => ['J_subject', 'text', null, 'subject', true],
        'MESSAGE_ID' => ['J_message_id', 'text', null, 'message-id', false],
        'REPLY' => ['J_reply', 'text', null, 'reply', true],
        'DURATION_MS' => ['J_duration', 'int', null, 'duration', true],
        'KEPT' => ['J_kept', 'yesno', null, 'kept', true],
    ];

    /** What W may do to several journal rows at once. */
    public const JOURNAL_GROUP_ACTIONS = ['resend' => 'J_RESEND'];

    /** @return array<string, mixed> column id => value */
    public static function accountValues(array $a, I18n $t): array
    {
        return [
            'ID' => $a['id'], 'ACTIVE' => $a['active'], 'NAME' => $a['name'], 'EMAIL' => $a['email'], 'HOST' => $a['host'], 'PORT' => $a['port'],
            'SECURITY' => $a['security'], 'AUTH' => $a['auth'] !== 'none', 'STATE' => $a,
            'SENT_TODAY' => self::usage($a, $t),
        ];
    }

    /**
     * What an account sent today against its daily limit, and this hour and
     * minute against those limits when it has them: "120 / 500 (this hour 30 / 100)".
     */
    public static function usage(array $a, I18n $t): string
    {
        $of = static fn (int $used, int $limit) => $used . ($limit > 0 ? ' / ' . $limit : '');
        $windows = [];
        if (($a['hourly_limit'] ?? 0) > 0) {
            $windows[] = sprintf($t->get('USE_HOUR'), $of($a['sent_this_hour'], $a['hourly_limit']));
        }
        if (($a['minute_limit'] ?? 0) > 0) {
            $windows[] = sprintf($t->get('USE_MINUTE'), $of($a['sent_this_minute'], $a['minute_limit']));
        }
        return $of($a['sent_today'], $a['daily_limit']) . ($windows ? ' (' . implode(', ', $windows) . ')' : '');
    }

    /** What W may do to one account: action => label key (its toggle, then delete). */
    public static function accountActions(array $a): array
    {
        return $a['active'] ? ['deactivate' => 'DEACTIVATE', 'delete' => 'DELETE'] : ['activate' => 'ACTIVATE', 'delete' => 'DELETE'];
    }

    /** @return array<string, mixed> */
    public static function outboxValues(array $l): array
    {
        return [
            'ID' => $l['id'], 'CREATED_AT' => $l['created_at'], 'ACCOUNT_ID' => $l['account_id'], 'FROM' => $l['from'], 'RECIPIENTS' => $l['recipients'],
            'SUBJECT' => $l['subject'], 'SIZE' => $l['size'], 'ATTEMPTS' => $l['attempts'], 'NEXT_TRY_AT' => $l['sending'] ? null : $l['next_try_at'],
            'LAST_ERROR' => $l['last_error'],
        ];
    }

    /** @param ?array $account the log's account, if it still exists */
    public static function logValues(array $log, ?array $account, I18n $t): array
    {
        return [
            'ACCOUNT' => Journal::logOwner($log, $account, $t), 'KIND' => $log['kind'], 'NAME' => $log['name'],
            'MODIFIED' => $log['modified'], 'SIZE' => $log['size'],
        ];
    }

    /** @return array<string, mixed> */
    public static function journalValues(array $r): array
    {
        return [
            'ID' => $r['id'], 'TIME' => $r['time'], 'STATUS' => $r['status'], 'ACCOUNT_ID' => $r['account_id'], 'MAILING_ID' => $r['mailing_id'],
            'FROM' => $r['from'], 'RECIPIENTS' => $r['recipients'], 'SUBJECT' => $r['subject'], 'MESSAGE_ID' => $r['message_id'],
            'REPLY' => $r['reply'], 'DURATION_MS' => $r['duration_ms'], 'KEPT' => $r['kept'],
        ];
    }

    /** A value of `$kind` as HTML (UTF-8, escaped); a journal status as its code (Bitrix shows it in words). */
    public static function cell(string $kind, mixed $value, I18n $t): string
    {
        $yesNo = static fn (bool $yes) => Html::e($t->get($yes ? 'YES' : 'NO'));
        return match ($kind) {
            'int' => (string) (int) $value,
            'date' => Html::date((int) $value),
            'bytes' => Html::bytes((int) $value),
            'yesno' => $yesNo((bool) $value),
            'security' => $yesNo($value !== 'none') . ' <small>(' . Html::e($value) . ')</small>',
            'health' => Health::html($value, $t),
            'account' => Html::e($value ?? '—'),
            'next_try' => $value === null ? Html::e($t->get('O_SENDING_NOW')) : Html::date((int) $value),
            'log_kind' => Html::e($t->get('KIND_' . $value)),
            'code' => '<code style="word-break: break-all">' . Html::e($value) . '</code>',
            'dns' => $value === null ? Html::e($t->get('DK_DNS_UNCHECKED')) : '<span class="dns-' . Html::e($value) . '">' . Html::e($t->get('DK_DNS_' . $value)) . '</span>',
            default => Html::e($value ?? ''),
        };
    }
}

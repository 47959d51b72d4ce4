<?php
// IDE stubs for the smtp34 extension (SPEC §6). Never include this file where
// the extension is loaded: the functions exist already. tests/php/StubsTest.php
// compares it with the loaded extension through Reflection, so it cannot drift.

namespace Smtp34 {
    /**
     * A failed account check (on save or through smtp34_account_check()), or
     * a store the extension cannot use. The message holds the server's reply.
     */
    class Exception extends \RuntimeException
    {
    }
}

namespace {
    /**
     * Sends one letter as PHP's mail() would, through the SMTP account chosen by
     * its From (SPEC §3). Bitrix calls it for every letter when it exists.
     *
     * True when the letter was sent, queued in the outbox (a transient or
     * account failure: it is retried), or handed to PHP's mail() (smtp34
     * disabled, or no account matches and `fallback` is `mail`). False only when
     * the letter is refused for good (a 5xx to the letter itself, no valid
     * recipient, no account and `fallback` = `none`). Every call is journaled.
     *
     * @param string $to comma-separated recipients, as for mail()
     * @param string $subject the subject, encoded words allowed
     * @param string $message the body, any charset (bytes are sent as they are)
     * @param string $additional_headers header lines separated by CRLF or LF
     * @param string $additional_parameters sendmail's options: the last valid -f or -r sets the envelope sender
     * @param object|null $context what Bitrix passes (ignored)
     */
    function custom_mail(string $to, string $subject, string $message, string $additional_headers = '', string $additional_parameters = '', ?object $context = null): bool
    {
    }

    /**
     * Inserts an account (no 'id') or updates one (with 'id'; fields left out keep
     * their values). With $check, connects, does TLS, EHLO and AUTH first (and sends
     * a test letter when `check_sends_test` is on); nothing is saved if it fails.
     *
     * @param array{id?: int, active?: bool, name?: string, email?: string, host?: string, port?: int, security?: 'none'|'ssl'|'starttls', auth?: 'none'|'login', login?: string, password?: string, mailing_first?: bool, verify_tls?: bool, daily_limit?: int, hourly_limit?: int, minute_limit?: int} $account
     * @return int the account's id
     * @throws \ValueError naming the field that is wrong
     * @throws \Smtp34\Exception when the check fails (the message holds the server's reply)
     */
    function smtp34_account_save(array $account, bool $check = true): int
    {
    }

    /**
     * One account, without its password ('has_password' says whether one is stored),
     * with what every worker knows of it: sent_today, failures, last_error,
     * last_error_at, last_success_at, resting_until.
     *
     * @return array<string, mixed>|null null when there is no such account
     */
    function smtp34_account_get(int $id): ?array
    {
    }

    /**
     * Every account, shaped as smtp34_account_get() returns one, highest id first.
     *
     * @return list<array<string, mixed>>
     */
    function smtp34_account_list(): array
    {
    }

    /** Deletes an account; false when there was none. */
    function smtp34_account_delete(int $id): bool
    {
    }

    /**
     * Checks an account against its server (connect, TLS, EHLO, AUTH; a test letter
     * when `check_sends_test` is on) without saving anything.
     *
     * @param array<string, mixed>|int $account an account array, or a stored account's id
     * @return array{ok: bool, message: string, transcript: string}
     */
    function smtp34_account_check(array|int $account): array
    {
    }

    /**
     * All settings (SPEC §5) after applying $changes.
     *
     * @param array<string, bool|int|string>|null $changes
     * @return array<string, bool|int|string>
     * @throws \ValueError naming the setting that is wrong
     */
    function smtp34_settings(?array $changes = null): array
    {
    }

    /** The id of the account custom_mail() would use for this From, or null. */
    function smtp34_resolve(string $from, bool $mailing = false): ?int
    {
    }

    /**
     * Journal rows newest first, one per custom_mail() call: id, time, account_id,
     * mailing, mailing_id, from, recipients, subject (decoded), message_id, status
     * (sent queued failed fallback refused disabled interrupted sending), reply,
     * duration_ms, kept (its bytes are kept: it can be resent), resent_from.
     * With $before_id > 0 only rows below it (keyset pages). $filter keys: status
     * (a status or a list), account_id (int, or null: rows without an account),
     * mailing (bool), since and until (unix times, inclusive), text (a substring of
     * from, recipients, subject or message_id); a bad key or value throws \ValueError.
     *
     * @param array{status?: string|list<string>, account_id?: ?int, mailing?: bool, since?: int, until?: int, text?: string}|null $filter
     * @return list<array<string, mixed>>
     */
    function smtp34_journal(int $limit = 50, int $before_id = 0, ?array $filter = null): array
    {
    }

    /**
     * Journal rows counted per (bucket, account, status) from $since to $until (0: now);
     * buckets of $bucket seconds aligned to the unix epoch, only non-empty ones.
     *
     * @return list<array{start: int, account_id: ?int, status: string, count: int}>
     */
    function smtp34_journal_counts(int $since, int $until = 0, int $bucket = 3600): array
    {
    }

    /**
     * Puts a letter whose bytes the journal kept (keep_letters) back into the outbox,
     * byte for byte, to the recipients it was kept for or only to the addresses in
     * $to; returns the new journal row's id (its resent_from is $id). Throws
     * Smtp34\Exception when nothing was kept, \ValueError for a bad $to.
     */
    function smtp34_journal_resend(int $id, string $to = ''): int
    {
    }

    /**
     * The transcript logs: name, account_id, kind (send|check), size, modified.
     *
     * @return list<array{name: string, account_id: int, kind: string, size: int, modified: int}>
     */
    function smtp34_log_list(): array
    {
    }

    /**
     * One transcript log's bytes.
     *
     * @throws \ValueError when the name is not one of smtp34's logs
     * @throws \Smtp34\Exception when it cannot be read
     */
    function smtp34_log_read(string $name): string
    {
    }

    /**
     * Deletes one transcript log; false when there was none.
     *
     * @throws \ValueError when the name is not one of smtp34's logs
     */
    function smtp34_log_delete(string $name): bool
    {
    }

    /**
     * Sends letters waiting in the outbox whose next try is due (all of them with $now).
     *
     * @return array{sent: int, failed: int, left: int}
     */
    function smtp34_outbox_flush(int $limit = 100, bool $now = false): array
    {
    }

    /**
     * The letters waiting in the outbox, with their attempts, next try and last error.
     *
     * @return list<array<string, mixed>>
     */
    function smtp34_outbox_list(): array
    {
    }

    /** Drops one waiting letter (journaled); false when there was none. */
    function smtp34_outbox_delete(int $id): bool
    {
    }

    /**
     * The periodic work (SPEC §6), for the Bitrix agent and cron: refreshes
     * OAuth tokens idle for 3 days, prunes the journal, flushes due letters.
     * Returns ['flushed' => ['sent','failed','left'], 'pruned' => n,
     * 'tokens_refreshed' => n, 'alerts_sent' => n, 'report_sent' => bool].
     */
    function smtp34_maintain(): array
    {
    }

    /**
     * Starts connecting an OAuth 2.0 account (SPEC §9): returns the provider's
     * authorization URL (PKCE S256, a one-time state valid 10 minutes) to
     * redirect the admin to; the provider sends them back to $redirect_uri.
     */
    function smtp34_oauth_start(int $account_id, string $redirect_uri): string
    {
    }

    /** Finishes the flow with the state and code the provider sent back; returns the account id. */
    function smtp34_oauth_finish(string $state, string $code): int
    {
    }

    /**
     * Saves a DKIM key (SPEC §9): insert without 'id', update with it.
     * Keys: 'domain', 'selector', 'private_key' (PEM, PKCS#1 or PKCS#8;
     * write-only) or 'generate' => 'rsa-2048' | 'ed25519', 'active'.
     * Letters whose From domain (or a parent domain) has an active key are
     * signed when rendered. Returns the key's id.
     */
    function smtp34_dkim_save(array $key): int
    {
    }

    /**
     * DKIM keys, newest first: 'id', 'domain', 'selector', 'algorithm',
     * 'active', 'dns_name', 'dns_value' (the TXT record to publish),
     * 'created_at'; never the private key.
     */
    function smtp34_dkim_list(): array
    {
    }

    /** Deletes a DKIM key; false when there was none. */
    function smtp34_dkim_delete(int $id): bool
    {
    }
}

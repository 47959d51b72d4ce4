<?php
declare(strict_types=1);

use PHPUnit\Framework\TestCase;

/** Each test starts with no accounts, no waiting letters, no DKIM keys and the default settings, smtp34 enabled. */
abstract class Smtp34TestCase extends TestCase
{
    protected const DEFAULTS = [
        'enabled' => true, 'log_enabled' => true, 'log_level' => 2, 'log_period' => 'day', 'log_max_mb' => 10,
        'timeout' => 5, 'check_sends_test' => false, 'test_recipient' => '', 'fallback' => 'mail', 'outbox_max_hours' => 48,
        'journal_days' => 30, 'keepalive_seconds' => 30, 'letters_per_connection' => 100, 'delivery' => 'wait',
        'keep_letters' => 'failed',
    ];

    /** @var list<SmtpServer> */
    private array $servers = [];

    protected function setUp(): void
    {
        foreach (smtp34_account_list() as $account) {
            smtp34_account_delete($account['id']);
        }
        foreach (smtp34_outbox_list() as $letter) {
            smtp34_outbox_delete($letter['id']);
        }
        foreach (smtp34_dkim_list() as $key) {
            smtp34_dkim_delete($key['id']);
        }
        smtp34_settings(self::DEFAULTS);
    }

    protected function tearDown(): void
    {
        foreach ($this->servers as $server) {
            $server->stop();
        }
        $this->servers = [];
    }

    /** @param array<string, string|bool> $options */
    protected function server(array $options = []): SmtpServer
    {
        return $this->servers[] = new SmtpServer($options);
    }

    protected function authServer(array $options = []): SmtpServer
    {
        return $this->server($options + ['auth' => 'shop:s3cret-pass']);
    }

    /** Saves an account for `$server` (checked against it unless $check is false). */
    protected function account(SmtpServer $server, array $fields = [], bool $check = true): int
    {
        return smtp34_account_save($fields + [
            'name' => 'Магазин',
            'email' => 'shop@site.ru',
            'host' => '127.0.0.1',
            'port' => $server->port,
            'security' => 'none',
            'auth' => 'login',
            'login' => 'shop',
            'password' => 's3cret-pass',
        ], $check);
    }

    /** The letters waiting in the outbox, for recipients containing $to. */
    protected function waiting(string $to = ''): array
    {
        return array_values(array_filter(smtp34_outbox_list(), static fn ($l) => str_contains($l['recipients'], $to)));
    }

    /**
     * Runs SQL on a database file from a PHP process without the extension:
     * closing any handle to the file in this process would drop the
     * extension's POSIX locks on it (see AccountApiTest).
     */
    protected static function sqlite(string $db, string $sql): void
    {
        $result = ChildPhp::run(sprintf('(new PDO(%s))->exec(%s);', var_export("sqlite:$db", true), var_export($sql, true)), [], [], false);
        self::assertSame(0, $result['code'], $result['stderr']);
    }

    /**
     * PHP code that saves an account for `$server` (AUTH shop:s3cret-pass, unchecked): a child's first line.
     * `$port`: where the account reaches it instead (a proxy in front of it).
     */
    protected static function saveAccountCode(SmtpServer $server, ?int $port = null): string
    {
        return sprintf("smtp34_account_save(['email' => 'shop@site.ru', 'host' => '127.0.0.1', 'port' => %d, 'login' => 'shop', 'password' => 's3cret-pass'], false);", $port ?? $server->port);
    }

    /** This process's database, key and logs, for a child PHP that shares them. @return array<string, string> */
    protected static function sharedIni(): array
    {
        return ['smtp34.db' => ini_get('smtp34.db'), 'smtp34.key_file' => ini_get('smtp34.key_file'), 'smtp34.log_dir' => ini_get('smtp34.log_dir')];
    }

    /** @return array<string, mixed> */
    protected function lastJournal(): array
    {
        return smtp34_journal(1)[0];
    }

    /** Splits a received letter into [header block, body] at the first blank line. */
    protected static function split(string $raw): array
    {
        $at = strpos($raw, "\r\n\r\n");
        self::assertNotFalse($at, 'no blank line between headers and body');
        return [substr($raw, 0, $at + 2), substr($raw, $at + 4)];
    }
}

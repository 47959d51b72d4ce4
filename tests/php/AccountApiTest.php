<?php
declare(strict_types=1);

/** Accounts, the check on save, settings and smtp34_resolve(), through the PHP API. */
final class AccountApiTest extends Smtp34TestCase
{
    public function testSaveChecksThenStoresAndNeverReturnsThePassword(): void
    {
        $server = $this->authServer();
        $id = $this->account($server);

        $account = smtp34_account_get($id);
        $this->assertSame([
            'id', 'active', 'name', 'email', 'host', 'port', 'security', 'auth', 'login', 'has_password',
            'mailing_first', 'verify_tls', 'daily_limit', 'hourly_limit', 'minute_limit', 'created_at', 'updated_at',
            // what every worker knows of it: today's count (this hour's and minute's when limited) and its health
            'sent_today', 'sent_this_hour', 'sent_this_minute', 'failures', 'last_error', 'last_error_at', 'last_success_at', 'resting_until',
            // SPEC §9, empty for a password account
            'oauth_provider', 'oauth_client_id', 'has_client_secret', 'oauth_tenant', 'oauth_authorize_url', 'oauth_token_url',
            'oauth_scope', 'oauth_connected', 'oauth_expires_at', 'oauth_refreshed_at', 'oauth_error',
        ], array_keys($account));
        $this->assertSame([0, 0, '', null, null, null], [$account['sent_today'], $account['failures'], $account['last_error'],
            $account['last_error_at'], $account['last_success_at'], $account['resting_until']], 'never used yet');
        $this->assertArrayNotHasKey('password', $account);
        $this->assertTrue($account['has_password']);
        $this->assertSame(['Магазин', 'shop@site.ru', $server->port, 'none', 'login'], [$account['name'], $account['email'], $account['port'], $account['security'], $account['auth']]);
        $this->assertSame([$account], smtp34_account_list());
        $this->assertSame([], $server->received(), 'no test letter unless check_sends_test is on');
    }

    public function testThePasswordIsEncryptedAtRestWithAPrivateKeyFile(): void
    {
        $this->account($this->authServer());

        // Read from another process: closing any handle to the database file
        // in this process (PDO's, or even file_get_contents) drops the
        // extension's POSIX locks on it, and another process's checkpoint
        // can then pull the WAL from under this one.
        $read = ChildPhp::run(sprintf(
            '$db = new PDO(%1$s); echo bin2hex((string) $db->query("SELECT password FROM accounts")->fetchColumn()), "\n";'
            . ' echo str_contains((string) file_get_contents(%2$s), "s3cret-pass") ? "plain" : "sealed";',
            var_export('sqlite:' . ini_get('smtp34.db'), true),
            var_export(ini_get('smtp34.db'), true)
        ), [], [], false);
        $this->assertSame(0, $read['code'], $read['stderr']);
        [$hex, $file] = explode("\n", trim($read['stdout']));
        $stored = hex2bin($hex);
        $this->assertGreaterThan(16, strlen($stored));
        $this->assertStringNotContainsString('s3cret-pass', $stored);
        $this->assertSame('sealed', $file);
        $this->assertSame('0600', substr(sprintf('%o', fileperms(ini_get('smtp34.key_file'))), -4));
    }

    public function testAFailedCheckSavesNothingAndThrowsTheServersReply(): void
    {
        $server = $this->authServer();
        try {
            $this->account($server, ['password' => 'wrong-password']);
            $this->fail('no exception');
        } catch (Smtp34\Exception $e) {
            $this->assertInstanceOf(RuntimeException::class, $e);
            $this->assertStringContainsString('535', $e->getMessage());
            $this->assertStringContainsString('nothing saved', $e->getMessage());
            $this->assertStringNotContainsString('wrong-password', $e->getMessage());
        }
        $this->assertSame([], smtp34_account_list());
    }

    public function testACheckAgainstADownServerThrows(): void
    {
        $server = $this->authServer();
        $server->stop();
        $this->expectException(Smtp34\Exception::class);
        $this->expectExceptionMessage('cannot connect to 127.0.0.1:' . $server->port);
        $this->account($server);
    }

    public function testUpdateKeepsThePasswordAndReChecks(): void
    {
        $server = $this->authServer();
        $id = $this->account($server);
        $account = smtp34_account_get($id);
        $account['name'] = 'Новое имя';
        $account['password'] = ''; // a form never echoes the password back

        $this->assertSame($id, smtp34_account_save($account));
        $updated = smtp34_account_get($id);
        $this->assertSame('Новое имя', $updated['name']);
        $this->assertTrue($updated['has_password']);
        $this->assertGreaterThanOrEqual($account['updated_at'], $updated['updated_at']);

        $this->expectException(Smtp34\Exception::class);
        smtp34_account_save(['id' => $id, 'password' => 'changed-wrong']);
    }

    public function testCheckReturnsOkMessageAndATranscriptWithoutSecrets(): void
    {
        $server = $this->authServer();
        $id = $this->account($server);

        $check = smtp34_account_check($id);
        $this->assertSame(['ok', 'message', 'transcript'], array_keys($check));
        $this->assertTrue($check['ok']);
        $this->assertStringContainsString('authorized as shop', $check['message']);
        $this->assertStringContainsString('CLIENT -> SERVER: EHLO', $check['transcript']);
        $this->assertStringContainsString('SERVER -> CLIENT: 235', $check['transcript']);
        $this->assertStringNotContainsString('s3cret-pass', $check['transcript']);
        $this->assertStringNotContainsString(base64_encode("\0shop\0s3cret-pass"), $check['transcript']);

        $bad = smtp34_account_check(['email' => 'shop@site.ru', 'host' => '127.0.0.1', 'port' => $server->port, 'login' => 'shop', 'password' => 'nope']);
        $this->assertFalse($bad['ok']);
        $this->assertStringStartsWith('535', $bad['message']);
    }

    public function testCheckOfAnUnknownAccountOrAWrongArgumentIsAValueError(): void
    {
        foreach ([[999999, 'id: no account with id 999999'], ['shop@site.ru', 'account: must be an account array or an account id']] as [$argument, $message]) {
            try {
                smtp34_account_check($argument);
                $this->fail('accepted ' . json_encode($argument));
            } catch (ValueError $e) {
                $this->assertSame($message, $e->getMessage());
            }
        }
    }

    public function testCheckSendsATestLetterWhenAskedTo(): void
    {
        $server = $this->authServer();
        smtp34_settings(['check_sends_test' => true]);
        $this->account($server);
        smtp34_settings(['test_recipient' => 'admin@site.ru']);
        $this->account($server);

        [$own, $chosen] = $server->received();
        $this->assertSame(['shop@site.ru'], $own['meta']['rcpt_tos']);
        $this->assertSame(['admin@site.ru'], $chosen['meta']['rcpt_tos']);
        $this->assertStringContainsString('Subject: smtp34: test letter', $own['raw']);
    }

    /** @dataProvider invalidAccounts */
    public function testInvalidFieldsThrowValueErrorNamingTheField(array $fields, string $field): void
    {
        try {
            smtp34_account_save($fields + ['email' => 'shop@site.ru', 'host' => 'smtp.site.ru'], false);
            $this->fail('no exception');
        } catch (ValueError $e) {
            $this->assertStringStartsWith("$field:", $e->getMessage());
        }
        $this->assertSame([], smtp34_account_list());
    }

    public static function invalidAccounts(): array
    {
        return [
            'security' => [['security' => 'tls'], 'security'],
            'port too big' => [['port' => 70000], 'port'],
            'port zero' => [['port' => 0], 'port'],
            'email' => [['email' => 'not an email'], 'email'],
            'host injection' => [['host' => "smtp.site.ru\r\nRCPT TO:<x@y.ru>"], 'host'],
            'host with a port' => [['host' => 'smtp.site.ru:465'], 'host'],
            'host of 100,000 characters' => [['host' => str_repeat('a', 100000)], 'host'],
            'quoted email with a display name inside' => [['email' => '"a b <x>"@b.c'], 'email'],
            'email with a display name' => [['email' => 'Shop <shop@site.ru>'], 'email'],
            'auth' => [['auth' => 'cram-md5'], 'auth'],
            'login missing' => [['auth' => 'login'], 'login'],
            'password missing' => [['auth' => 'login', 'login' => 'x'], 'password'],
            'unknown field' => [['smtp_host' => 'x'], 'smtp_host'],
            'array value' => [['name' => ['x']], 'name'],
            'non-UTF-8 name' => [['name' => "\xcc\xe0\xe3"], 'name'],
            'missing id' => [['id' => 999999], 'id'],
        ];
    }

    public function testDeleteAndListOrder(): void
    {
        $server = $this->authServer();
        $first = $this->account($server, [], false);
        $second = $this->account($server, [], false);
        $this->assertSame([$second, $first], array_column(smtp34_account_list(), 'id'), 'highest id first');
        $this->assertTrue(smtp34_account_delete($first));
        $this->assertFalse(smtp34_account_delete($first));
        $this->assertNull(smtp34_account_get($first));
    }

    public function testSettingsDefaultsChangesAndValidation(): void
    {
        $all = smtp34_settings();
        $this->assertSame(['enabled', 'log_enabled', 'log_level', 'log_period', 'log_max_mb', 'timeout', 'check_sends_test', 'test_recipient', 'fallback', 'outbox_max_hours', 'journal_days', 'keepalive_seconds', 'letters_per_connection', 'delivery',
            'keep_letters', 'alert_email', 'alert_webhook', 'alert_after_failures', 'weekly_report'], array_keys($all));
        $changed = smtp34_settings(['log_level' => '4', 'fallback' => 'none']);
        $this->assertSame(4, $changed['log_level']);
        $this->assertSame('none', $changed['fallback']);
        foreach ([['log_level' => 5], ['fallback' => 'drop'], ['delivery' => 'later'], ['timeout' => 0], ['log_period' => 'hour'], ['nope' => 1], ['test_recipient' => 'x@'],
            ['keep_letters' => 'some'], ['alert_email' => 'a@site.ru, nope'], ['alert_webhook' => 'http://example.com/hook'], ['alert_after_failures' => 0]] as $bad) {
            try {
                smtp34_settings($bad + ['enabled' => false]);
                $this->fail('accepted ' . json_encode($bad));
            } catch (ValueError $e) {
                $this->assertStringStartsWith(array_key_first($bad) . ':', $e->getMessage());
            }
        }
        $this->assertTrue(smtp34_settings()['enabled'], 'a rejected change changes nothing');
    }

    public function testResolveFollowsTheSpecAlgorithm(): void
    {
        $server = $this->authServer();
        $plain = $this->account($server, [], false);
        $bulkByEmail = $this->account($server, ['name' => 'Рассылка', 'mailing_first' => true], false);
        $bulkExact = $this->account($server, ['mailing_first' => true], false);
        $plainNewer = $this->account($server, ['name' => 'Другое имя'], false);
        $inactive = $this->account($server, ['active' => false], false);
        $named = '=?UTF-8?B?' . base64_encode('Магазин') . '?= <Shop@Site.ru>';

        $this->assertSame($bulkExact, smtp34_resolve($named, true));
        $this->assertSame($bulkExact, smtp34_resolve('"Магазин" <shop@site.ru>', false), 'name+email, highest id');
        $this->assertSame($bulkExact, smtp34_resolve('Кто-то <shop@site.ru>', true), 'mailing_first by email, highest id');
        $this->assertSame($plainNewer, smtp34_resolve('Кто-то <shop@site.ru>', false), 'by email, highest id');
        $this->assertNull(smtp34_resolve('other@site.ru'));
        smtp34_account_delete($bulkExact);
        smtp34_account_delete($plainNewer);
        $this->assertSame($bulkByEmail, smtp34_resolve($named, true));
        $this->assertSame($plain, smtp34_resolve($named, false));
        $this->assertNotSame($inactive, smtp34_resolve('shop@site.ru'));
    }
}

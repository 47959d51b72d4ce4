<?php
declare(strict_types=1);

/** Transcript logs per account: levels, masking, restarts, names, concurrent writers. */
final class LogTest extends Smtp34TestCase
{
    private const PASSWORD = 's3cret-pass';

    protected function setUp(): void
    {
        parent::setUp();
        foreach (smtp34_log_list() as $log) {
            smtp34_log_delete($log['name']);
        }
    }

    private function send(int $level, array $serverOptions = [], array $account = []): array
    {
        smtp34_settings(['log_level' => $level]);
        $server = $this->authServer($serverOptions);
        $id = $this->account($server, $account, false);
        $body = "Строка письма\n" . mb_convert_encoding("в windows-1251\n", 'Windows-1251', 'UTF-8');
        $this->assertTrue(custom_mail('user@mail.ru', 'subj', $body, 'From: shop@site.ru'));
        return [smtp34_log_read("send_$id.log"), $this->lastJournal(), $server, $id];
    }

    private static function assertNoSecret(string $log): void
    {
        foreach ([self::PASSWORD, base64_encode(self::PASSWORD), base64_encode("\0shop\0" . self::PASSWORD), base64_encode('shop')] as $secret) {
            self::assertStringNotContainsString($secret, $log);
        }
    }

    public function testLevelOneHasClientCommandsOnly(): void
    {
        [$log, $row] = $this->send(1);
        $this->assertStringContainsString('send ' . $row['message_id'] . ' to user@mail.ru: sent (250 2.0.0 Ok', $log);
        $this->assertStringContainsString('CLIENT -> SERVER: MAIL FROM:<shop@site.ru>', $log);
        $this->assertStringContainsString('CLIENT -> SERVER: RCPT TO:<user@mail.ru>', $log);
        $this->assertStringNotContainsString('SERVER -> CLIENT', $log);
        $this->assertStringNotContainsString('Connection:', $log);
        $this->assertStringNotContainsString('Строка письма', $log);
    }

    public function testLevelTwoAddsServerReplies(): void
    {
        [$log] = $this->send(2);
        $this->assertStringContainsString('SERVER -> CLIENT: 220 smtp34-test', $log);
        $this->assertStringContainsString('SERVER -> CLIENT: 235 2.7.0 Authentication successful', $log);
        $this->assertStringNotContainsString('Connection:', $log);
        $this->assertStringNotContainsString('Строка письма', $log);
    }

    public function testLevelThreeAddsConnectionInformation(): void
    {
        [$log, , $server] = $this->send(3, Certificates::server() + ['tls' => 'starttls'], ['security' => 'starttls', 'verify_tls' => false]);
        $this->assertStringContainsString("Connection: opened to 127.0.0.1:{$server->port} in ", $log);
        $this->assertMatchesRegularExpression('/Connection: TLS TLSv1_[23] TLS\w+, certificate subject CN=localhost, certificate NOT verified/', $log);
        $this->assertMatchesRegularExpression('/\[\+\d+ms\]/', $log);
        $this->assertStringNotContainsString('Строка письма', $log);
    }

    public function testLevelFourAddsTheDataBytesButNeverAuthPlain(): void
    {
        [$log] = $this->send(4, ['auth-only' => 'PLAIN']);
        $this->assertStringContainsString('CLIENT -> SERVER: Строка письма', $log);
        $this->assertStringContainsString('CLIENT -> SERVER: ' . mb_convert_encoding('в windows-1251', 'Windows-1251', 'UTF-8'), $log, 'bytes as sent');
        $this->assertStringContainsString('CLIENT -> SERVER: AUTH PLAIN ********', $log);
        self::assertNoSecret($log);
    }

    public function testLevelFourNeverShowsAuthLogin(): void
    {
        [$log] = $this->send(4, ['auth-only' => 'LOGIN']);
        $this->assertStringContainsString('CLIENT -> SERVER: AUTH LOGIN', $log);
        $this->assertSame(2, substr_count($log, "CLIENT -> SERVER: ********\n"), 'login and password both masked');
        $this->assertStringContainsString('SERVER -> CLIENT: 235', $log);
        self::assertNoSecret($log);
    }

    public function testChecksGoToTheirOwnLogAndShowTheTestLetter(): void
    {
        $server = $this->authServer();
        smtp34_settings(['check_sends_test' => true, 'test_recipient' => 'admin@site.ru', 'log_level' => 4]);
        $fields = ['email' => 'shop@site.ru', 'host' => '127.0.0.1', 'port' => $server->port, 'login' => 'shop', 'password' => self::PASSWORD];

        $check = smtp34_account_check($fields);
        $this->assertTrue($check['ok'], $check['message']);
        $this->assertStringContainsString('CLIENT -> SERVER: RCPT TO:<admin@site.ru>', $check['transcript']);
        $this->assertStringContainsString('CLIENT -> SERVER: Subject: smtp34: test letter', $check['transcript']);
        $this->assertStringContainsString('test letter sent to admin@site.ru', $check['message']);
        self::assertNoSecret($check['transcript']);
        $this->assertStringContainsString('RCPT TO:<admin@site.ru>', smtp34_log_read('check_0.log'), 'not saved yet: check_0.log');

        $id = smtp34_account_save($fields); // checked before it has an id: check_0.log again
        $this->assertSame(2, substr_count(smtp34_log_read('check_0.log'), '==== '));
        smtp34_account_check($id);
        smtp34_account_check($id);
        $this->assertStringContainsString('check of shop@site.ru', smtp34_log_read("check_$id.log"));
        $this->assertSame(2, substr_count(smtp34_log_read("check_$id.log"), '==== '), 'same revision: appended');
        self::assertNoSecret(smtp34_log_read("check_$id.log"));
    }

    public function testAChangedAccountStartsItsLogAfresh(): void
    {
        [, , $server, $id] = $this->send(2);
        custom_mail('user@mail.ru', 'second', "b\n", 'From: shop@site.ru');
        $this->assertSame(2, substr_count(smtp34_log_read("send_$id.log"), '==== '));

        smtp34_account_save(['id' => $id, 'name' => 'Другое имя'], false);
        custom_mail('user@mail.ru', 'third', "b\n", 'From: shop@site.ru');
        $this->assertSame(1, substr_count(smtp34_log_read("send_$id.log"), '==== '));
        $this->assertCount(3, $server->received());
    }

    public function testALogOlderThanThePeriodStartsAfresh(): void
    {
        [, , , $id] = $this->send(2);
        $file = ini_get('smtp34.log_dir') . "/send_$id.log";
        $moveBack = static function (int $seconds) use ($file): void {
            $text = (string) file_get_contents($file);
            $text = preg_replace_callback('/started (\d+) /', static fn ($m) => 'started ' . ((int) $m[1] - $seconds) . ' ', $text, 1);
            file_put_contents($file, $text);
        };

        $moveBack(2 * 86400);
        smtp34_settings(['log_period' => 'week']);
        custom_mail('user@mail.ru', 's', "b\n", 'From: shop@site.ru');
        $this->assertSame(2, substr_count(smtp34_log_read("send_$id.log"), '==== '), 'two days < a week');

        smtp34_settings(['log_period' => 'day']);
        custom_mail('user@mail.ru', 's', "b\n", 'From: shop@site.ru');
        $this->assertSame(1, substr_count(smtp34_log_read("send_$id.log"), '==== '), 'two days >= a day');
    }

    public function testALogPastItsSizeLimitStartsAfresh(): void
    {
        [, , , $id] = $this->send(2);
        $file = ini_get('smtp34.log_dir') . "/send_$id.log";
        file_put_contents($file, str_repeat("padding line\n", 90000), FILE_APPEND); // ~1.1 MiB

        smtp34_settings(['log_max_mb' => 0]);
        custom_mail('user@mail.ru', 's', "b\n", 'From: shop@site.ru');
        $this->assertStringContainsString('padding line', smtp34_log_read("send_$id.log"), '0 = no limit');

        smtp34_settings(['log_max_mb' => 1]);
        custom_mail('user@mail.ru', 's', "b\n", 'From: shop@site.ru');
        $log = smtp34_log_read("send_$id.log");
        $this->assertStringNotContainsString('padding line', $log);
        $this->assertSame(1, substr_count($log, '==== '));
    }

    public function testLogsOffWritesNothing(): void
    {
        smtp34_settings(['log_enabled' => false]);
        [, , , $id] = $this->sendWithoutReading();
        $this->assertSame([], smtp34_log_list());
    }

    private function sendWithoutReading(): array
    {
        $server = $this->authServer();
        $id = $this->account($server, [], false);
        $this->assertTrue(custom_mail('user@mail.ru', 's', "b\n", 'From: shop@site.ru'));
        return [null, null, $server, $id];
    }

    public function testListShowsOurLogsOnly(): void
    {
        [, , , $id] = $this->send(2);
        file_put_contents(ini_get('smtp34.log_dir') . '/notes.txt', 'not ours');
        $list = smtp34_log_list();
        $this->assertCount(1, $list);
        $this->assertSame(['name', 'account_id', 'kind', 'size', 'modified'], array_keys($list[0]));
        $this->assertSame(["send_$id.log", $id, 'send'], [$list[0]['name'], $list[0]['account_id'], $list[0]['kind']]);
        $this->assertSame(filesize(ini_get('smtp34.log_dir') . "/send_$id.log"), $list[0]['size']);
        $this->assertEqualsWithDelta(time(), $list[0]['modified'], 5);
        $this->assertTrue(smtp34_log_delete("send_$id.log"));
        $this->assertFalse(smtp34_log_delete("send_$id.log"));
    }

    /** @dataProvider traversals */
    public function testNamesThatAreNotOurLogsAreRefused(string $name): void
    {
        file_put_contents(ini_get('smtp34.log_dir') . '/../canary.log', 'canary');
        foreach (['smtp34_log_read', 'smtp34_log_delete'] as $function) {
            try {
                $function($name);
                $this->fail("$function accepted " . json_encode($name));
            } catch (ValueError $e) {
                $this->assertStringStartsWith('name:', $e->getMessage());
            }
        }
        $this->assertFileExists(ini_get('smtp34.log_dir') . '/../canary.log');
        $this->assertFileExists(ini_get('smtp34.db'));
    }

    public static function traversals(): array
    {
        return array_map(static fn ($n) => [$n], [
            '../canary.log', '../smtp34.db', '/etc/passwd', 'send_1.log/../../canary.log', "send_1.log\0.txt",
            'send_..log', 'send_-1.log', '..', '', "send_1.log\n", 'SEND_1.log', 'send_01.log',
        ]);
    }

    public function testAReadOfAMissingLogIsAClearError(): void
    {
        $this->expectException(Smtp34\Exception::class);
        $this->expectExceptionMessage('cannot read log send_424242.log');
        smtp34_log_read('send_424242.log');
    }

    public function testAnUnwritableLogIsJournaledAndTheLetterStillGoes(): void
    {
        $server = $this->authServer();
        $code = sprintf(<<<'PHP'
            smtp34_settings(['enabled' => true, 'delivery' => 'wait']);
            smtp34_account_save(['email' => 'shop@site.ru', 'host' => '127.0.0.1', 'port' => %d, 'login' => 'shop', 'password' => 's3cret-pass'], false);
            var_dump(custom_mail('u@mail.ru', 's', "b\n", 'From: shop@site.ru'));
            echo smtp34_journal(1)[0]['reply'], "\n";
            PHP, $server->port);
        $result = ChildPhp::run($code, ['smtp34.log_dir' => '/proc/smtp34-logs'] + ChildPhp::freshIni());

        $this->assertStringStartsWith("bool(true)\n250 2.0.0 Ok", $result['stdout'], $result['stderr']);
        $this->assertStringContainsString('cannot create the log directory /proc/smtp34-logs', $result['stdout']);
        $this->assertCount(1, $server->received());
    }

    public function testSeveralWorkersWriteWholeEntries(): void
    {
        $server = $this->authServer();
        smtp34_settings(['log_level' => 4]);
        $id = $this->account($server, [], false);
        $code = <<<'PHP'
            $body = str_repeat("line of a long letter body to make entries big\n", 200);
            for ($i = 0; $i < 10; $i++) {
                custom_mail("u$i@mail.ru", 's', $body, 'From: shop@site.ru');
            }
            PHP;
        $ini = self::sharedIni();
        foreach (array_map(static fn () => ChildPhp::start($code, $ini), range(1, 4)) as $wait) {
            $this->assertSame(0, $wait()['code']);
        }

        $log = smtp34_log_read("send_$id.log");
        $entries = preg_split('/^(?===== )/m', $log);
        array_shift($entries); // the header line
        $this->assertCount(40, $entries);
        // each worker keeps its connection: one EHLO each, then letter after letter
        $this->assertSame(4, substr_count($log, 'CLIENT -> SERVER: EHLO'));
        foreach ($entries as $entry) {
            $this->assertSame(1, substr_count($entry, 'CLIENT -> SERVER: MAIL FROM:'));
            $this->assertSame(200, substr_count($entry, 'CLIENT -> SERVER: line of a long letter body'));
            $this->assertMatchesRegularExpression('/\A==== [^\n]+\n(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \[\+\d+ms\] [^\n]*\n)+\z/', $entry);
        }
    }

    public function testLinksInTheLogDirectoryAreNeverFollowed(): void
    {
        $ini = ChildPhp::freshIni();
        $dir = dirname($ini['smtp34.db']);
        $victim = "$dir/victim.txt";
        file_put_contents($victim, "precious\n");
        mkdir($ini['smtp34.log_dir'], 0700);
        symlink($victim, $ini['smtp34.log_dir'] . '/send_7.log');
        symlink($victim, $ini['smtp34.log_dir'] . '/check_0.log');
        $server = $this->authServer();
        $code = sprintf(<<<'PHP'
            try { echo smtp34_log_read('send_7.log'); } catch (Smtp34\Exception $e) { echo 'refused: ', $e->getMessage(), "\n"; }
            $check = smtp34_account_check(['email' => 'shop@site.ru', 'host' => '127.0.0.1', 'port' => %d, 'login' => 'shop', 'password' => 's3cret-pass']);
            echo $check['ok'] ? "check ok\n" : "check failed\n";
            echo json_encode(array_column(smtp34_log_list(), 'name')), "\n";
            PHP, $server->port);
        $result = ChildPhp::run($code, $ini);

        $this->assertSame(0, $result['code'], $result['stderr']);
        $this->assertStringStartsWith('refused: cannot read log send_7.log', $result['stdout']);
        $this->assertStringNotContainsString('precious', $result['stdout']);
        $this->assertStringContainsString("check ok\n[]\n", $result['stdout'], 'the check still works; links are not listed');
        $this->assertSame("precious\n", file_get_contents($victim), 'not truncated through check_0.log');
    }

    public function testTheDatabaseItsWalAndTheLogsArePrivate(): void
    {
        $ini = ChildPhp::freshIni();
        $server = $this->authServer();
        $code = self::saveAccountCode($server) . sprintf(<<<'PHP'
            smtp34_settings(['enabled' => true, 'log_level' => 4, 'delivery' => 'wait']);
            var_dump(custom_mail('u@mail.ru', 's', "reset link\n", 'From: shop@site.ru'));
            $modes = [];
            foreach ([ini_get('smtp34.db'), ini_get('smtp34.db') . '-wal', ini_get('smtp34.db') . '-shm', ini_get('smtp34.key_file'), ini_get('smtp34.log_dir') . '/send_1.log', ini_get('smtp34.log_dir')] as $file) {
                $modes[basename($file)] = substr(sprintf('%%o', fileperms($file)), -4);
            }
            echo json_encode($modes);
            PHP);
        $result = ChildPhp::run($code, $ini);

        $this->assertSame(0, $result['code'], $result['stderr']);
        [$sent, $modes] = explode("\n", $result['stdout']);
        $this->assertSame('bool(true)', $sent);
        $this->assertSame(['smtp34.db' => '0600', 'smtp34.db-wal' => '0600', 'smtp34.db-shm' => '0600', 'smtp34.key' => '0600', 'send_1.log' => '0600', 'logs' => '0700'],
            json_decode($modes, true));
    }
}

<?php
declare(strict_types=1);

/** The second attacker's probe (issue "Hardening II"), each finding against a real server or a real second process. */
final class HardeningTest extends Smtp34TestCase
{
    /**
     * A server whose TLS handshake trickles: a record header announcing 16 KB,
     * then one byte every 0.3 s, for ever. With `$starttls` it first speaks
     * enough SMTP to be asked for STARTTLS.
     */
    private function tricklingServer(bool $starttls): array
    {
        $script = <<<'PY'
            import socket, sys, time, threading
            starttls = sys.argv[1] == "starttls"
            s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(8)
            print(s.getsockname()[1], flush=True)
            def serve(c):
                try:
                    if starttls:
                        f = c.makefile("rb")
                        c.sendall(b"220 slow.test ESMTP\r\n"); f.readline()
                        c.sendall(b"250-slow.test\r\n250 STARTTLS\r\n"); f.readline()
                        c.sendall(b"220 go ahead\r\n")
                    c.sendall(b"\x16\x03\x03\x40\x00")
                    while True:
                        c.send(b"\x00"); time.sleep(0.3)
                except OSError:
                    pass
            while True:
                c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
            PY;
        $process = proc_open(['/usr/bin/python3', '-c', $script, $starttls ? 'starttls' : 'ssl'], [1 => ['pipe', 'w']], $pipes);
        return [$process, (int) fgets($pipes[1])];
    }

    public function testATlsHandshakeThatTricklesIsCutOffAtTheTimeout(): void
    {
        $servers = ['ssl' => $this->tricklingServer(false), 'starttls' => $this->tricklingServer(true)];
        try {
            smtp34_settings(['timeout' => 1]);
            foreach ($servers as $security => [, $port]) {
                $account = ['email' => 'shop@site.ru', 'host' => '127.0.0.1', 'port' => $port, 'security' => $security, 'login' => 'shop', 'password' => 'p'];
                $started = microtime(true);
                $check = smtp34_account_check($account);
                $this->assertLessThan(2.5, microtime(true) - $started, "$security: bounded by the timeout: {$check['message']}");
                $this->assertFalse($check['ok']);
                $this->assertStringContainsString('timed out', $check['message'], $security);
            }

            [, $port] = $servers['ssl'];
            $id = smtp34_account_save(['email' => 'shop@site.ru', 'host' => '127.0.0.1', 'port' => $port, 'security' => 'ssl', 'login' => 'shop', 'password' => 'p'], false);
            $started = microtime(true);
            $this->assertTrue(custom_mail('buyer@mail.ru', 'Заказ', "b\n", 'From: shop@site.ru'));
            $this->assertLessThan(2.5, microtime(true) - $started, 'a page hit is bounded too');
            $this->assertSame('queued', $this->lastJournal()['status'], 'the letter waits in the outbox');
            $this->assertNotNull(smtp34_account_get($id)['resting_until'], 'and the account rests: the next hits skip it');
        } finally {
            foreach ($servers as [$process]) {
                proc_terminate($process);
            }
        }
    }

    public function testTheStoredPasswordIsNotSentToAnotherServer(): void
    {
        $server = $this->authServer();
        $id = $this->account($server);
        $elsewhere = $this->server(['auth' => 'shop:s3cret-pass']);
        foreach ([['host' => 'localhost'], ['port' => $elsewhere->port], ['security' => 'starttls'], ['verify_tls' => false]] as $change) {
            foreach (['smtp34_account_check', 'smtp34_account_save'] as $call) {
                try {
                    $call(['id' => $id] + $change);
                    $this->fail("$call accepted " . json_encode($change) . ' without the password');
                } catch (ValueError $e) {
                    $this->assertStringStartsWith('password: must be given again', $e->getMessage());
                }
            }
        }
        $this->assertSame([], $elsewhere->received());
        $this->assertStringNotContainsString('AUTH', (string) @file_get_contents(ini_get('smtp34.log_dir') . '/check_' . $id . '.log'), 'no login was tried');
        // with the password given again the change is made
        $this->assertSame($id, smtp34_account_save(['id' => $id, 'port' => $elsewhere->port, 'password' => 's3cret-pass']));
        $this->assertSame($id, smtp34_account_save(['id' => $id, 'name' => 'Другое имя']), 'other fields need no password');
    }

    /** @dataProvider badIds */
    public function testANonPositiveIdIsAValueError(int $id): void
    {
        $server = $this->authServer();
        $this->expectException(ValueError::class);
        $this->expectExceptionMessage('id: must be a positive account id');
        try {
            smtp34_account_save(['id' => $id, 'email' => 'shop@site.ru', 'host' => '127.0.0.1', 'port' => $server->port, 'security' => 'none'], false);
        } finally {
            $this->assertSame([], smtp34_account_list(), 'nothing created');
        }
    }

    public static function badIds(): array
    {
        return ['zero' => [0], 'negative' => [-5]];
    }

    public function testTwoProcessesChangingDifferentFieldsLoseNothing(): void
    {
        $server = $this->authServer();
        $id = $this->account($server);
        $ini = ['smtp34.db' => ini_get('smtp34.db'), 'smtp34.key_file' => ini_get('smtp34.key_file'), 'smtp34.log_dir' => ini_get('smtp34.log_dir')];
        $loop = static fn (string $body) => "for (\$i = 1; \$i <= 60; \$i++) { $body; }";
        $children = [
            ChildPhp::start($loop("smtp34_settings(['log_max_mb' => \$i])"), $ini),
            ChildPhp::start($loop("smtp34_settings(['journal_days' => \$i])"), $ini),
            // a partial save with its check between the read and the write
            ChildPhp::start($loop("smtp34_account_save(['id' => $id, 'daily_limit' => \$i])"), $ini),
            ChildPhp::start($loop("smtp34_account_save(['id' => $id, 'mailing_first' => \$i % 2 === 0], false)"), $ini),
        ];
        foreach ($children as $wait) {
            $result = $wait();
            $this->assertSame(0, $result['code'], $result['stderr']);
        }
        $settings = smtp34_settings();
        $this->assertSame([60, 60], [$settings['log_max_mb'], $settings['journal_days']]);
        $account = smtp34_account_get($id);
        $this->assertSame([60, true], [$account['daily_limit'], $account['mailing_first']]);
    }

    public function testAnEditDoesNotUndoADeactivationThatCameDuringItsCheck(): void
    {
        // the check on save sends a test letter, and the server takes a second to accept it
        $server = $this->authServer(['slow-data' => 1]);
        $id = $this->account($server, [], false);
        smtp34_settings(['check_sends_test' => true]);
        $ini = ['smtp34.db' => ini_get('smtp34.db'), 'smtp34.key_file' => ini_get('smtp34.key_file'), 'smtp34.log_dir' => ini_get('smtp34.log_dir')];
        $edit = ChildPhp::start("smtp34_account_save(['id' => $id, 'name' => 'Новое имя']);", $ini);
        usleep(300_000);
        smtp34_account_save(['id' => $id, 'active' => false], false);
        $result = $edit();
        $this->assertSame(0, $result['code'], $result['stderr']);
        $account = smtp34_account_get($id);
        $this->assertSame(['Новое имя', false], [$account['name'], $account['active']]);
    }
}

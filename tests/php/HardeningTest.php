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
        $ini = self::sharedIni();
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
        $ini = self::sharedIni();
        $edit = ChildPhp::start("smtp34_account_save(['id' => $id, 'name' => 'Новое имя']);", $ini);
        usleep(300_000);
        smtp34_account_save(['id' => $id, 'active' => false], false);
        $result = $edit();
        $this->assertSame(0, $result['code'], $result['stderr']);
        $account = smtp34_account_get($id);
        $this->assertSame(['Новое имя', false], [$account['name'], $account['active']]);
    }

    /**
     * A server that refuses AUTH and echoes what it was sent in its refusal
     * (and the password it decoded from it): `$mechanism` is the one it offers.
     */
    private function echoingServer(string $mechanism): array
    {
        $script = <<<'PY'
            import base64, socket, sys, threading
            mechanism = sys.argv[1]
            s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(8)
            print(s.getsockname()[1], flush=True)
            def serve(c):
                f = c.makefile("rb")
                say = lambda line: c.sendall(line.encode() + b"\r\n")
                try:
                    say("220 echo.test ESMTP")
                    said = []
                    while True:
                        line = f.readline()
                        if not line:
                            return
                        words = line.decode("latin-1").strip().split(" ")
                        verb = words[0].upper()
                        if verb in ("EHLO", "HELO"):
                            say("250-echo.test"); say("250 AUTH " + mechanism)
                        elif verb == "AUTH" and len(words) > 2:
                            password = base64.b64decode(words[2]).split(b"\0")[-1].decode()
                            say("535 5.7.8 bad credentials: %s (password %s)" % (words[2], password))
                        elif verb == "AUTH":
                            say("334 VXNlcm5hbWU6")
                        elif verb == "QUIT":
                            say("221 bye"); return
                        elif len(said) == 0:
                            said.append(words[0]); say("334 UGFzc3dvcmQ6")
                        else:
                            password = base64.b64decode(words[0]).decode()
                            say("535-5.7.8 login %s refused" % said[0]); say("535 5.7.8 password %s (%s) refused" % (words[0], password))
                except OSError:
                    pass
            while True:
                c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
            PY;
        $process = proc_open(['/usr/bin/python3', '-c', $script, $mechanism], [1 => ['pipe', 'w']], $pipes);
        return [$process, (int) fgets($pipes[1])];
    }

    /** @dataProvider mechanisms */
    public function testAServerThatEchoesTheLoginSeesItMaskedEverywhere(string $mechanism): void
    {
        [$process, $port] = $this->echoingServer($mechanism);
        $password = 'Tr0ub4dor&3-secret';
        $secrets = [$password, base64_encode("\0shop\0$password"), base64_encode($password)];
        try {
            smtp34_settings(['log_level' => 4]);
            $account = ['email' => 'shop@site.ru', 'host' => '127.0.0.1', 'port' => $port, 'security' => 'none', 'login' => 'shop', 'password' => $password];
            $shown = [json_encode(smtp34_account_check($account))];
            try {
                smtp34_account_save($account);
                $this->fail('a refused login is not saved');
            } catch (Smtp34\Exception $e) {
                $shown[] = $e->getMessage();
            }
            $id = smtp34_account_save($account, false);
            $shown[] = json_encode(smtp34_account_check($id));
            $this->assertTrue(custom_mail('buyer@mail.ru', 'Заказ', "b\n", 'From: shop@site.ru'));
            $shown[] = json_encode(smtp34_journal(5));
            $shown[] = json_encode(smtp34_outbox_list());
            foreach (smtp34_log_list() as $log) {
                $shown[] = smtp34_log_read($log['name']);
            }
            $everything = implode("\n", $shown);
            $this->assertStringContainsString('535', $everything, 'the refusal itself is shown');
            $this->assertStringContainsString('********', $everything);
            foreach ($secrets as $secret) {
                $this->assertStringNotContainsString($secret, $everything);
            }
        } finally {
            proc_terminate($process);
        }
    }

    public static function mechanisms(): array
    {
        return ['PLAIN' => ['PLAIN'], 'LOGIN' => ['LOGIN']];
    }

    public function testTheDatabaseIsPrivateLikeTheKey(): void
    {
        $ini = ChildPhp::freshIni();
        $db = $ini['smtp34.db'];
        // SQLite removes -wal and -shm when the last connection closes: look while this one is open
        $first = ChildPhp::run(sprintf(<<<'PHP'
            smtp34_settings(['log_max_mb' => 7]);
            clearstatcache();
            foreach (['', '-wal', '-shm'] as $suffix) {
                echo $suffix, ' ', substr(sprintf('%%o', fileperms(%s . $suffix)), -4), "\n";
            }
            PHP, var_export($db, true)), $ini);
        $this->assertSame(" 0600\n-wal 0600\n-shm 0600\n", $first['stdout'], $first['stderr']);
        touch("$db-wal");
        chmod("$db-wal", 0600);
        $read = 'try { smtp34_account_list(); echo "used"; } catch (Smtp34\Exception $e) { echo $e->getMessage(); }';
        foreach (['', '-wal'] as $suffix) {
            chmod($db . $suffix, 0644);
            $result = ChildPhp::run($read, $ini);
            $this->assertSame("the database $db$suffix can be read or changed by other users (mode 644): chmod 600 $db$suffix", $result['stdout'], $result['stderr']);
            $ri = shell_exec(escapeshellarg(PHP_BINARY) . ' -n -d extension=' . escapeshellarg(ChildPhp::extension()) . ' -d smtp34.db=' . escapeshellarg($db) . ' --ri smtp34');
            $this->assertStringContainsString("Store => the database $db$suffix can be read or changed by other users", (string) $ri);
            chmod($db . $suffix, 0600);
        }
        $this->assertSame('used', ChildPhp::run($read, $ini)['stdout']);
    }

    public function testALetterThatLeftTheOutboxIsGoneFromTheDisk(): void
    {
        $server = $this->authServer();
        $ini = ChildPhp::freshIni();
        $token = 'reset-token-' . bin2hex(random_bytes(16));
        $files = static fn () => implode('', array_map(static fn ($f) => (string) @file_get_contents($f), glob($ini['smtp34.db'] . '*')));

        $sent = ChildPhp::run(self::saveAccountCode($server) . "smtp34_settings(['enabled' => true]);\n"
            . "var_dump(custom_mail('buyer@mail.ru', 'Пароль', " . var_export("Your link: https://site.ru/reset?t=$token\n", true) . ", 'From: shop@site.ru'));", $ini);
        $this->assertSame("bool(true)\n", $sent['stdout'], $sent['stderr']);
        $this->assertStringContainsString($token, $server->only()['raw']);
        $this->assertStringNotContainsString($token, $files(), 'delivered: no copy left in smtp34.db or its WAL');

        $server->stop();
        $dropped = ChildPhp::run("var_dump(custom_mail('buyer@mail.ru', 'Пароль', " . var_export("Second link: $token-2\n", true) . ", 'From: shop@site.ru'));", $ini);
        $this->assertSame("bool(true)\n", $dropped['stdout'], $dropped['stderr']);
        $this->assertStringContainsString("$token-2", $files(), 'waiting in the outbox: kept, as it must be');
        $drop = ChildPhp::run('foreach (smtp34_outbox_list() as $l) { var_dump(smtp34_outbox_delete($l["id"])); }', $ini);
        $this->assertSame("bool(true)\n", $drop['stdout'], $drop['stderr']);
        $this->assertStringNotContainsString($token, $files(), 'dropped by the admin: gone too');
    }

    public function testALogLargerThanMemoryLimitIsReadInPart(): void
    {
        $ini = ChildPhp::freshIni();
        mkdir($ini['smtp34.log_dir'], 0700);
        $log = fopen($ini['smtp34.log_dir'] . '/send_1.log', 'w');
        $line = str_repeat('x', 99) . "\n";
        for ($i = 0; $i < 400_000; $i++) {
            fwrite($log, $line);
        }
        fwrite($log, "the last line\n");
        fclose($log);
        $result = ChildPhp::run(<<<'PHP'
            register_shutdown_function(static function () { echo "shutdown ran\n"; });
            $text = smtp34_log_read('send_1.log');
            echo strlen($text), "\n", strtok($text, "\n"), "\n", substr($text, -14);
            PHP, $ini + ['memory_limit' => '16M']);
        $this->assertSame(0, $result['code'], $result['stderr']);
        [$length, $first] = explode("\n", $result['stdout']);
        $this->assertLessThanOrEqual(4 << 20, (int) $length - 100, 'a quarter of memory_limit');
        $this->assertStringStartsWith('# smtp34: this log is 40000014 bytes; only its last ', $first);
        $this->assertStringEndsWith("the last line\nshutdown ran\n", $result['stdout']);
    }

    public function testAParameterOfTheWrongShapeIsA400WithNoWarning(): void
    {
        $port = (static function (): int {
            $s = stream_socket_server('tcp://127.0.0.1:0');
            $port = (int) substr(strrchr(stream_socket_get_name($s, false), ':'), 1);
            fclose($s);
            return $port;
        })();
        $ini = self::sharedIni();
        $command = [PHP_BINARY, '-n', '-d', 'extension=' . ChildPhp::extension(), '-d', 'display_errors=1', '-d', 'error_reporting=-1', '-d', 'smtp34.admin_password_hash=' . password_hash('pw', PASSWORD_BCRYPT)];
        foreach ($ini as $name => $value) {
            array_push($command, '-d', "$name=$value");
        }
        array_push($command, '-S', "127.0.0.1:$port", __DIR__ . '/../../php/admin/router.php');
        $log = tempnam(sys_get_temp_dir(), 'smtp34-router-');
        $process = proc_open($command, [1 => ['file', $log, 'w'], 2 => ['file', $log, 'a']], $pipes);
        try {
            $request = static function (string $path, ?string $post = null) use ($port): array {
                $context = stream_context_create(['http' => [
                    'method' => $post === null ? 'GET' : 'POST', 'ignore_errors' => true,
                    'header' => 'Authorization: Basic ' . base64_encode('admin:pw') . "\r\nContent-Type: application/x-www-form-urlencoded",
                    'content' => (string) $post,
                ]]);
                for ($i = 0; $i < 50; $i++) {
                    $body = @file_get_contents("http://127.0.0.1:$port$path", false, $context);
                    if ($body !== false) {
                        return [(int) explode(' ', $http_response_header[0])[1], $body];
                    }
                    usleep(100_000);
                }
                throw new RuntimeException("no answer from the router: $path");
            };
            [$status, $page] = $request('/settings');
            $this->assertSame(200, $status, $page);
            $this->assertSame(1, preg_match('/name="sessid" value="([^"]+)"/', $page, $m));
            $sessid = urlencode($m[1]);
            foreach (['/logs?view[]=x', '/journal?status[]=sent&text[a]=b', '/accounts?lang[]=en', '/account_edit?id[]=1', '/outbox?sent[]=1'] as $path) {
                [$status, $body] = $request($path);
                $this->assertSame(400, $status, "$path: $body");
                $this->assertStringContainsString('must be a single value', $body);
            }
            foreach (["sessid=$sessid&timeout[]=5", "sessid=$sessid&ids=1&action=delete"] as $post) {
                [$status, $body] = $request('/settings', $post);
                $this->assertSame(400, $status, "$post: $body");
            }
            $id = smtp34_account_save(['email' => 'shop@site.ru', 'host' => '127.0.0.1', 'port' => 25, 'security' => 'none'], false);
            [$status, $body] = $request('/accounts', "sessid=$sessid&ids[]=$id&action=deactivate");
            $this->assertSame(303, $status, 'saved, then back to the list');
            $this->assertFalse(smtp34_account_get($id)['active'], 'a list where the page takes one still works');
            $this->assertDoesNotMatchRegularExpression('/Warning|Notice|Deprecated|Fatal|\.php/', (string) file_get_contents($log));
        } finally {
            proc_terminate($process);
            proc_close($process);
            @unlink($log);
        }
    }

    public function testHeaderLinesLongerThan998OctetsAreFoldedOnTheWayOut(): void
    {
        $server = $this->authServer();
        $this->account($server);
        $cc = implode(', ', array_map(static fn ($i) => "user$i@mail.ru", range(1, 200)));
        $words = implode(' ', array_fill(0, 1000, 'word'));
        $token = str_repeat('t', 5000);
        $this->assertTrue(custom_mail('buyer@mail.ru', 'Заказ', "b\n", "From: shop@site.ru\r\nCc: $cc\r\nX-Words: $words\r\nX-Token: $token"));
        $letter = $server->only();
        $this->assertCount(201, $letter['meta']['rcpt_tos'], 'every Cc got it');
        [$head] = self::split($letter['raw']);
        foreach (explode("\r\n", $head) as $line) {
            $this->assertLessThanOrEqual(998, strlen($line));
        }
        $unfolded = preg_replace('/\r\n(?=[ \t])/', '', $head);
        $this->assertStringContainsString("\r\nCc: $cc\r\n", $unfolded, 'folded at blanks: the value is kept');
        $this->assertStringContainsString("\r\nX-Words: $words\r\n", $unfolded);
        $this->assertSame(1, preg_match('/\r\nX-Token: ([t ]+)\r\n/', $unfolded, $m));
        $this->assertSame($token, str_replace(' ', '', $m[1]), 'no octet of a value with no blank is lost');
    }

    public function testAnIpv6LiteralConnects(): void
    {
        $probe = @stream_socket_server('tcp://[::1]:0');
        if ($probe === false) {
            $this->markTestSkipped('this machine has no IPv6 loopback');
        }
        fclose($probe);
        $server = $this->authServer(['host' => '::1']);
        $check = smtp34_account_check(['email' => 'shop@site.ru', 'host' => '[::1]', 'port' => $server->port, 'security' => 'none', 'login' => 'shop', 'password' => 's3cret-pass']);
        $this->assertTrue($check['ok'], $check['message']);
        $this->account($server, ['host' => '[::1]']);
        $this->assertTrue(custom_mail('buyer@mail.ru', 'Заказ', "b\n", 'From: shop@site.ru'));
        $this->assertSame('sent', $this->lastJournal()['status'], $this->lastJournal()['reply']);
        $this->assertCount(1, $server->received());
    }
}

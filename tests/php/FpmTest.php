<?php
declare(strict_types=1);

/**
 * A real deployment: Debian's php-fpm, its master as root, its workers as
 * nobody, the extension loaded with every smtp34.* ini entry left empty, and
 * requests sent through FastCGI (cgi-fcgi). Letters go through PHP's mail()
 * while smtp34 is disabled and through smtp34 once it is enabled, and the
 * data directory belongs to the workers, not to the master.
 */
final class FpmTest extends Smtp34TestCase
{
    private string $dir;
    private int $port;
    /** @var resource|null */
    private $fpm = null;
    /** @var resource|null */
    private $nginx = null;

    protected function setUp(): void
    {
        parent::setUp();
        if (self::uid() !== 0 || !is_executable('/usr/sbin/php-fpm8.2') || !is_executable('/usr/bin/cgi-fcgi')) {
            $this->markTestSkipped('needs root, php8.2-fpm and libfcgi-bin (.ci/setup installs them)');
        }
        $this->dir = sys_get_temp_dir() . '/smtp34-fpm-' . bin2hex(random_bytes(4));
        mkdir("$this->dir/www", 0755, true);
        mkdir("$this->dir/tmp", 0777, true);
        chmod("$this->dir/tmp", 01777); // like /tmp: the workers' private directory goes in here
        mkdir("$this->dir/mail", 0777, true);
        chmod("$this->dir", 0755);
        chmod("$this->dir/mail", 0777);
        file_put_contents("$this->dir/sendmail.sh", "#!/bin/sh\ncat > \"$this->dir/mail/\$\$.eml\"\n");
        chmod("$this->dir/sendmail.sh", 0755);
        $this->script('send', 'var_dump(custom_mail($_GET["to"], "=?UTF-8?B?" . base64_encode("Тема") . "?=", "Тело\n", "From: shop@site.ru"));'
            . ' $row = smtp34_journal(1)[0]; echo $row["status"], " | ", $row["reply"], "\n";');
        $this->script('enable', 'smtp34_account_save(["email" => "shop@site.ru", "host" => "127.0.0.1", "port" => (int) $_GET["port"],'
            . ' "login" => "shop", "password" => "s3cret-pass"], false); smtp34_settings(["enabled" => true]);'
            . ' preg_match("/^Uid:\\s+(\\d+)/m", file_get_contents("/proc/self/status"), $m); echo "enabled by ", $m[1], "\n";');
        $this->script('last', '$row = smtp34_journal(1)[0]; echo $row["status"], " | ", $row["reply"], "\n";');
        $this->script('where', 'echo ini_get("smtp34.db") === "" ? "empty ini, " : "ini set, ", sys_get_temp_dir(), "\n";');

        $this->script('flush', 'echo json_encode(smtp34_outbox_flush(100, true));');
        $this->script('journal', 'echo json_encode(smtp34_journal((int) $_GET["n"]));');
        $this->startFpm([]);
    }

    /** php-fpm with the test's pool of `$workers`, plus `$extra` lines (pm.max_requests = 5, say). */
    private function startFpm(array $extra, int $workers = 2): void
    {
        if (is_resource($this->fpm)) {
            proc_terminate($this->fpm, 15);
            proc_close($this->fpm);
        }
        $extraLines = implode("\n", $extra);
        $this->port = self::freePort();
        $conf = "$this->dir/fpm.conf";
        file_put_contents($conf, <<<INI
            [global]
            pid = $this->dir/fpm.pid
            error_log = $this->dir/fpm.log
            daemonize = no
            [www]
            user = nobody
            group = nogroup
            listen = 127.0.0.1:$this->port
            pm = static
            pm.max_children = $workers
            catch_workers_output = yes
            env[TMPDIR] = $this->dir/tmp
            php_admin_value[sendmail_path] = $this->dir/sendmail.sh
            $extraLines
            INI);
        $command = ['/usr/sbin/php-fpm8.2', '-n', '-y', $conf, '-d', 'extension=' . ChildPhp::extension(),
            '-d', 'smtp34.db=', '-d', 'smtp34.key_file=', '-d', 'smtp34.log_dir='];
        $this->fpm = proc_open($command, [1 => ['file', "$this->dir/fpm.out", 'w'], 2 => ['file', "$this->dir/fpm.out", 'a']], $pipes);
        for ($i = 0; $i < 100 && !@fsockopen('127.0.0.1', $this->port); $i++) {
            usleep(50000);
        }
    }

    /** nginx in front of the pool, as a site runs it (tests/support/nginx.sh); its port. */
    private function startNginx(): int
    {
        $port = self::freePort();
        $command = ['/bin/bash', __DIR__ . '/../support/nginx.sh', $this->dir, (string) $port, (string) $this->port];
        $this->nginx = proc_open($command, [1 => ['file', "$this->dir/nginx.out", 'w'], 2 => ['file', "$this->dir/nginx.out", 'a']], $pipes);
        for ($i = 0; $i < 100 && !@fsockopen('127.0.0.1', $port); $i++) {
            usleep(50000);
        }
        return $port;
    }

    protected function tearDown(): void
    {
        if (is_resource($this->nginx)) {
            proc_terminate($this->nginx, 15);
            proc_close($this->nginx);
        }
        if (is_resource($this->fpm)) {
            proc_terminate($this->fpm, 15);
            proc_close($this->fpm);
        }
        parent::tearDown();
    }

    private static function uid(): int
    {
        preg_match('/^Uid:\s+(\d+)/m', (string) file_get_contents('/proc/self/status'), $m);
        return (int) $m[1];
    }

    private static function freePort(): int
    {
        $socket = stream_socket_server('tcp://127.0.0.1:0');
        $port = (int) substr(strrchr(stream_socket_get_name($socket, false), ':'), 1);
        fclose($socket);
        return $port;
    }

    private function script(string $name, string $code): void
    {
        file_put_contents("$this->dir/www/$name.php", "<?php\n$code\n");
    }

    /** One request through FastCGI, as a web server would send it; the response body. */
    private function request(string $name, array $query = []): string
    {
        $env = ['SCRIPT_FILENAME' => "$this->dir/www/$name.php", 'REQUEST_METHOD' => 'GET', 'QUERY_STRING' => http_build_query($query),
            'SCRIPT_NAME' => "/$name.php", 'SERVER_PROTOCOL' => 'HTTP/1.1', 'GATEWAY_INTERFACE' => 'CGI/1.1'];
        $process = proc_open(['/usr/bin/cgi-fcgi', '-bind', '-connect', "127.0.0.1:$this->port"], [1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes, null, $env);
        $out = stream_get_contents($pipes[1]);
        proc_close($process);
        $at = strpos((string) $out, "\r\n\r\n");
        $this->assertNotFalse($at, "no FastCGI response from php-fpm: $out\n" . @file_get_contents("$this->dir/fpm.out"));
        return substr($out, $at + 4);
    }

    public function testWorkersOfARootMasterSendThroughMailWhileDisabledThenThroughSmtp34(): void
    {
        $systemDirBefore = is_dir('/var/lib/smtp34');
        $this->assertSame("empty ini, $this->dir/tmp\n", $this->request('where'));

        // the state after install: disabled, every letter goes to PHP's own mail()
        $answer = $this->request('send', ['to' => 'first@mail.ru']);
        $this->assertStringStartsWith("bool(true)\ndisabled | smtp34 is disabled (setting 'enabled'); PHP mail() returned true", $answer);
        $handed = glob("$this->dir/mail/*.eml");
        $this->assertCount(1, $handed, 'mail() got the letter');
        $this->assertStringContainsString('To: first@mail.ru', (string) file_get_contents($handed[0]));

        // the data directory was made by a worker, as the worker's user, private
        $data = "$this->dir/tmp/smtp34-65534";
        $this->assertDirectoryExists($data);
        $this->assertSame(65534, fileowner($data), 'owned by the workers, not the root master');
        $this->assertSame('0700', substr(sprintf('%o', fileperms($data)), -4));
        $this->assertSame(65534, fileowner("$data/smtp34.db"));
        $this->assertSame($systemDirBefore, is_dir('/var/lib/smtp34'), 'module start-up created nothing');

        $server = $this->authServer();
        $this->assertSame("enabled by 65534\n", $this->request('enable', ['port' => $server->port]));
        // delivery = background: the page returns once the letter is in the outbox,
        // and the worker's own sender thread (started there, as nobody) delivers it
        $answer = $this->request('send', ['to' => 'second@mail.ru']);
        // (its thread may even have delivered it by the time the page reads the row)
        $this->assertMatchesRegularExpression("/^bool\\(true\\)\n(queued \\| queued: this process's sender thread delivers it|sent \\| 250 )/", $answer);
        for ($i = 0; $i < 100 && !str_starts_with($this->request('last'), 'sent'); $i++) {
            usleep(50_000);
        }
        $this->assertStringStartsWith('sent | 250 2.0.0 Ok', $this->request('last'));
        $letter = $server->only();
        $this->assertSame(['second@mail.ru'], $letter['meta']['rcpt_tos']);
        $this->assertSame('shop', $letter['meta']['login'], 'the password was sealed and opened by the workers');
        $this->assertCount(1, glob("$this->dir/mail/*.eml"), 'mail() got nothing more');
        $this->assertSame(65534, fileowner("$data/smtp34.key"));
        $this->assertSame('0600', substr(sprintf('%o', fileperms("$data/smtp34.key")), -4));
    }

    /** Enables smtp34 through a worker with an account for `$server`; the data directory's database. */
    private function enable(SmtpServer $server): string
    {
        $this->assertSame("enabled by 65534\n", $this->request('enable', ['port' => $server->port]));
        return "$this->dir/tmp/smtp34-65534/smtp34.db";
    }

    /** The recipients `$server` received, each as often as it came. */
    private static function recipients(SmtpServer $server): array
    {
        $all = array_merge(...array_map(static fn ($l) => $l['meta']['rcpt_tos'], $server->received()));
        sort($all);
        return $all;
    }

    public function testWorkersRecycledEveryFiveRequestsLoseNoLetter(): void
    {
        $this->startFpm(['pm.max_requests = 5']);
        $server = $this->authServer();
        $this->enable($server);
        $expected = [];
        for ($i = 0; $i < 30; $i++) {
            $started = microtime(true);
            $this->assertMatchesRegularExpression('/^bool\(true\)\n(queued|sent) \| /', $this->request('send', ['to' => "reader$i@mail.ru"]));
            $this->assertLessThan(1.0, microtime(true) - $started, 'a page never waits for the server');
            $expected[] = "reader$i@mail.ru";
        }
        sort($expected);
        for ($i = 0; $i < 200 && count($server->received()) < 30; $i++) {
            usleep(50_000);
        }
        $this->assertSame($expected, self::recipients($server), 'each letter once, though six workers came and went');
        $statuses = array_count_values(array_column(json_decode($this->request('journal', ['n' => 30]), true), 'status'));
        $this->assertSame(['sent' => 30], $statuses);
    }

    public function testAWorkerKilledWhileItsThreadSendsLosesNothing(): void
    {
        $server = $this->authServer(['slow-data' => '1']);
        $db = $this->enable($server);
        for ($i = 0; $i < 3; $i++) {
            $this->assertMatchesRegularExpression('/^bool\(true\)\n(queued|sent) \| /', $this->request('send', ['to' => "buyer$i@mail.ru"]));
        }
        usleep(300_000); // a sender thread is inside a letter's DATA now
        exec('pkill -9 -P ' . (int) file_get_contents("$this->dir/fpm.pid")); // this pool's workers, not the master
        usleep(300_000);

        // what the dead thread held is still claimed; as if its lease had lapsed (a time past), the next flush sends it
        // (as the workers' user: a root-owned -shm would lock them out)
        $expire = sprintf('(new PDO(%s))->exec("UPDATE outbox SET claim_until = 1");', var_export("sqlite:$db", true));
        exec('runuser -u nobody -- ' . escapeshellarg(PHP_BINARY) . ' -r ' . escapeshellarg($expire) . ' 2>&1', $out, $code);
        $this->assertSame(0, $code, implode("\n", $out));
        $flushed = json_decode($this->request('flush'), true);
        $this->assertSame(0, $flushed['left'], json_encode($flushed));
        for ($i = 0; $i < 100 && count(array_unique(self::recipients($server))) < 3; $i++) {
            usleep(50_000);
        }
        $got = self::recipients($server);
        $this->assertSame(['buyer0@mail.ru', 'buyer1@mail.ru', 'buyer2@mail.ru'], array_values(array_unique($got)), 'none lost');
        $this->assertLessThanOrEqual(4, count($got), 'only the letter whose fate was unknown may come twice');
    }

    /**
     * Issue 18 as a site lives it: four php-fpm workers behind nginx, a letter on every page hit,
     * 20 hits a second for eight seconds, and the SMTP server frozen (SIGSTOP) for six of them.
     * No page waits for it (none takes a second), and once it wakes every letter arrives, each once.
     */
    public function testPagesThroughNginxNeverWaitForAFrozenServerAndEveryLetterGoesWhenItWakes(): void
    {
        if (!is_executable('/usr/sbin/nginx')) {
            $this->markTestSkipped('needs nginx (.ci/setup installs it)');
        }
        $this->startFpm([], 4);
        $server = $this->authServer();
        $this->enable($server);
        $this->script('page', 'echo custom_mail("reader" . (int) $_GET["n"] . "@mail.ru", "=?UTF-8?B?" . base64_encode("Новости") . "?=",'
            . ' "Текст\n", "From: shop@site.ru") ? "ok" : "failed";');
        $web = $this->startNginx();
        $letters = 160;
        $load = proc_open(['/usr/bin/python3', __DIR__ . '/../../bench/http_load.py', (string) $web, '/page.php', (string) $letters, '4',
            '--latency', '--rate', '20'], [1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes);
        usleep(1_000_000);
        posix_kill($server->pid(), SIGSTOP);
        try {
            usleep(6_000_000);
        } finally {
            posix_kill($server->pid(), SIGCONT);
        }
        $out = (string) stream_get_contents($pipes[1]);
        $problem = (string) stream_get_contents($pipes[2]);
        $this->assertSame(0, proc_close($load), $problem . @file_get_contents("$this->dir/nginx-error.log"));
        [, $p99, $longest] = array_map('floatval', explode(' ', trim($out)));
        $this->assertLessThan(1000.0, $longest, "no page waits for the frozen server (p99 $p99 ms, longest $longest ms)");

        $expected = array_map(static fn ($n) => "reader$n@mail.ru", range(0, $letters - 1));
        sort($expected);
        for ($i = 0; $i < 300 && count($server->received()) < $letters; $i++) {
            usleep(100_000);
        }
        $this->assertSame($expected, self::recipients($server), 'every letter once the server woke, each once');
        $statuses = array_count_values(array_column(json_decode($this->request('journal', ['n' => $letters]), true), 'status'));
        $this->assertSame(['sent' => $letters], $statuses);
    }
}

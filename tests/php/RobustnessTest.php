<?php
declare(strict_types=1);

/** Bad input, bad configuration and many workers: never a crash, never a silent loss. */
final class RobustnessTest extends Smtp34TestCase
{
    public function testTheExtensionDescribesItself(): void
    {
        exec(escapeshellarg(PHP_BINARY) . ' -n -d extension=' . escapeshellarg(ChildPhp::extension()) . ' --ri smtp34', $out, $code);
        $text = implode("\n", $out);
        $this->assertSame(0, $code);
        $this->assertMatchesRegularExpression('/^Version => \d+\.\d+\.\d+$/m', $text);
        $this->assertMatchesRegularExpression('/^Commit => \S+$/m', $text);
        foreach (['smtp34.db', 'smtp34.key_file', 'smtp34.log_dir'] as $ini) {
            $this->assertMatchesRegularExpression("/^$ini => /m", $text);
        }
    }

    public function testIniPathsAreSystemOnly(): void
    {
        $this->assertFalse(ini_set('smtp34.db', '/tmp/elsewhere.db'));
        $this->assertNotSame('/tmp/elsewhere.db', ini_get('smtp34.db'));
    }

    public function testTheApiHasTheSpecShape(): void
    {
        $signature = static function (string $function): string {
            $f = new ReflectionFunction($function);
            return implode(', ', array_map(static fn (ReflectionParameter $p) => ($p->isOptional() ? '?' : '') . '$' . $p->getName(), $f->getParameters()));
        };
        $this->assertSame('$to, $subject, $message, ?$additional_headers, ?$additional_parameters, ?$context', $signature('custom_mail'));
        $this->assertSame('$account, ?$check', $signature('smtp34_account_save'));
        $this->assertSame('$from, ?$mailing', $signature('smtp34_resolve'));
        $this->assertSame('?$limit, ?$before_id, ?$filter', $signature('smtp34_journal'));
        $this->assertSame([50, 0], array_map(static fn ($p) => $p->getDefaultValue(), array_slice((new ReflectionFunction('smtp34_journal'))->getParameters(), 0, 2)));
        $this->assertSame('$since, ?$until, ?$bucket', $signature('smtp34_journal_counts'));
        $this->assertSame('$id, ?$to', $signature('smtp34_journal_resend'));
        $this->assertSame('?$changes', $signature('smtp34_settings'));
        $this->assertSame('?$limit, ?$now', $signature('smtp34_outbox_flush'));
        $this->assertSame([100, false], array_map(static fn ($p) => $p->getDefaultValue(), (new ReflectionFunction('smtp34_outbox_flush'))->getParameters()));
        $this->assertSame('', $signature('smtp34_outbox_list'));
        $this->assertSame('$id', $signature('smtp34_outbox_delete'));
        $this->assertTrue(is_subclass_of('Smtp34\\Exception', RuntimeException::class));
        $headers = (new ReflectionFunction('custom_mail'))->getParameters()[3];
        $this->assertSame('string', (string) $headers->getType(), 'string, not ?string');
        $this->assertSame('', $headers->getDefaultValue());
    }

    public function testCustomMailTakesFiveOrSixArgumentsAndAnyContextObject(): void
    {
        $server = $this->authServer();
        $this->account($server);
        $this->assertTrue(custom_mail('u@mail.ru', 's', "b\n", 'From: shop@site.ru', ''));
        $this->assertTrue(custom_mail('u@mail.ru', 's', "b\n", 'From: shop@site.ru', '', new ArrayObject()));
        $this->assertTrue(custom_mail('u@mail.ru', 's', "b\n", 'From: shop@site.ru', '', null));
        $this->assertCount(3, $server->received());
    }

    public function testToAndSubjectCannotInjectHeadersOrRecipients(): void
    {
        $server = $this->authServer();
        $this->account($server);

        $this->assertTrue(custom_mail("u@mail.ru, w@mail.ru\r\nBcc: evil@x.ru", "Тема\r\nBcc: evil2@x.ru\r\n\r\nfake body", "b\n", 'From: shop@site.ru'));

        $letter = $server->only();
        $this->assertSame(['u@mail.ru'], $letter['meta']['rcpt_tos'], 'the entry with the injected Bcc is skipped whole');
        $this->assertStringContainsString('skipped: w@mail.ru  Bcc: evil@x.ru', $this->lastJournal()['reply']);
        [$head, $body] = self::split($letter['raw']);
        $this->assertStringContainsString("\r\nSubject: Тема  Bcc: evil2@x.ru    fake body\r\n", $head);
        $this->assertSame("b\r\n", $body);
    }

    /** @dataProvider badLetters */
    public function testBadLettersAreJournaledNotFatal(string $to, string $headers, string $status, string $reply): void
    {
        $server = $this->authServer();
        $this->account($server);
        smtp34_settings(['fallback' => 'none']);

        $result = custom_mail($to, 's', "b\n", $headers);

        $row = $this->lastJournal();
        $this->assertSame($status === 'sent', $result);
        $this->assertSame($status, $row['status']);
        $this->assertStringContainsString($reply, $row['reply']);
    }

    public static function badLetters(): array
    {
        return [
            'no From' => ['u@mail.ru', 'Reply-To: a@b.ru', 'refused', 'no readable From'],
            'garbage From' => ['u@mail.ru', "From: \x00\xff garbage", 'refused', 'no readable From'],
            'invalid recipients only' => ['not an address, also@bad@', 'From: shop@site.ru', 'failed', 'no valid recipients'],
            'some invalid recipients' => ['u@mail.ru, bad@', 'From: shop@site.ru', 'sent', 'skipped: bad@'],
            'garbage header lines' => ['u@mail.ru', "From: shop@site.ru\r\nthis is not a header\r\n\r\n\r\n: empty name", 'sent', '2 malformed header line(s) dropped'],
        ];
    }

    public function testRandomBytesNeverCrash(): void
    {
        $this->account($this->authServer());
        smtp34_settings(['fallback' => 'none']); // our own path, not PHP's mail()
        mt_srand(34);
        for ($i = 0; $i < 40; $i++) {
            $junk = static fn (): string => random_bytes(mt_rand(1, 200));
            $result = custom_mail($junk(), $junk(), $junk(), (mt_rand(0, 1) ? "From: shop@site.ru\r\n" : '') . $junk(), $junk());
            $this->assertIsBool($result);
        }
        $this->assertCount(40, smtp34_journal(40));
    }

    public function testHandingOverToMailIsExactlyLikeMailEvenForBadInput(): void
    {
        smtp34_settings(['enabled' => false]);
        try {
            custom_mail('u@mail.ru', 's', 'b', 'From: a@b.ru', "-f\0x");
            $this->fail('no exception');
        } catch (ValueError $e) {
            $this->assertStringStartsWith('mail(): Argument #5 ($additional_params) must not contain any null bytes', $e->getMessage());
        }
        $row = $this->lastJournal();
        $this->assertSame('disabled', $row['status']);
        $this->assertStringContainsString('PHP mail() returned false', $row['reply']);
    }

    public function testWithoutAUsableDatabaseLettersGoThroughMailAndTheApiSaysWhy(): void
    {
        $out = sys_get_temp_dir() . '/smtp34-sendmail-' . bin2hex(random_bytes(4));
        file_put_contents("$out.sh", "#!/bin/sh\ncat >> $out\n");
        chmod("$out.sh", 0700);
        $ini = ['smtp34.db' => '/proc/smtp34/nowhere.db', 'smtp34.key_file' => '/proc/smtp34/key', 'smtp34.log_dir' => '/proc/smtp34/logs', 'sendmail_path' => "$out.sh"];
        $result = ChildPhp::run(<<<'PHP'
            try { smtp34_settings(); } catch (Smtp34\Exception $e) { echo 'exception: ', $e->getMessage(), "\n"; }
            var_dump(custom_mail('u@mail.ru', 'first', 'b', 'From: a@b.ru'));
            var_dump(custom_mail('u@mail.ru', 'second', 'b', 'From: a@b.ru'));
            PHP, $ini);

        $this->assertSame(0, $result['code'], $result['stderr']);
        $this->assertStringContainsString('exception: cannot create the data directory /proc/smtp34', $result['stdout']);
        $this->assertSame(2, substr_count($result['stdout'], 'bool(true)'), 'PHP mail() took both letters');
        $this->assertSame(1, substr_count($result['stderr'], 'letters go through PHP\'s mail() until this is fixed'), 'one warning per process');
        $this->assertStringContainsString('cannot create the data directory /proc/smtp34', $result['stderr']);
        $handed = (string) @file_get_contents($out);
        @unlink($out);
        @unlink("$out.sh");
        $this->assertSame(2, substr_count($handed, 'To: u@mail.ru'));
    }

    public function testADataDirectoryOthersMayWriteIsRefusedNeverTightened(): void
    {
        $dir = sys_get_temp_dir() . '/smtp34-open-' . bin2hex(random_bytes(4));
        mkdir($dir);
        chmod($dir, 0777);
        $out = "$dir.mail";
        file_put_contents("$out.sh", "#!/bin/sh\ncat >> $out\n");
        chmod("$out.sh", 0700);
        $result = ChildPhp::run(<<<'PHP'
            try { smtp34_account_list(); } catch (Smtp34\Exception $e) { echo $e->getMessage(), "\n"; }
            var_dump(custom_mail('u@mail.ru', 's', 'b', 'From: a@b.ru'));
            PHP, ['smtp34.db' => "$dir/smtp34.db", 'sendmail_path' => "$out.sh"]);

        $this->assertSame(0, $result['code'], $result['stderr']);
        $this->assertStringContainsString("the data directory $dir is writable by other users (mode 777): chmod 700 $dir", $result['stdout']);
        $this->assertStringEndsWith("bool(true)\n", $result['stdout'], 'the letter went through mail()');
        $this->assertFileExists($out);
        $this->assertSame('0777', substr(sprintf('%o', fileperms($dir)), -4), 'left as it was');
        $this->assertFileDoesNotExist("$dir/smtp34.db");
        $ri = shell_exec(escapeshellarg(PHP_BINARY) . ' -n -d extension=' . escapeshellarg(ChildPhp::extension()) . ' -d smtp34.db=' . escapeshellarg("$dir/smtp34.db") . ' --ri smtp34');
        $this->assertStringContainsString("Store => the data directory $dir is writable by other users", (string) $ri);
        @unlink($out);
        @unlink("$out.sh");
    }

    public function testRunAsRootOnTheSiteUsersDataTheAdviceNamesThatUser(): void
    {
        if (!function_exists('posix_geteuid') || posix_geteuid() !== 0) {
            $this->markTestSkipped('needs root: an admin running php --ri on the site user\'s files');
        }
        $dir = sys_get_temp_dir() . '/smtp34-site-' . bin2hex(random_bytes(4));
        mkdir($dir, 0700);
        chown($dir, 'nobody');
        $ri = (string) shell_exec(escapeshellarg(PHP_BINARY) . ' -n -d extension=' . escapeshellarg(ChildPhp::extension()) . ' -d smtp34.db=' . escapeshellarg("$dir/smtp34.db") . ' --ri smtp34');
        rmdir($dir);
        $this->assertStringContainsString("Store => the data directory $dir belongs to nobody (uid 65534), not to this PHP process's user root (uid 0): run this as its owner (sudo -u nobody php ...)", $ri);
        $this->assertStringNotContainsString('chown root', $ri);
    }

    public function testDefaultsRunWithNoIniSet(): void
    {
        // a temp dir of its own: the default <tmp>/smtp34-<uid> is shared by everything on this machine
        $tmp = sys_get_temp_dir() . '/smtp34-defaults-' . bin2hex(random_bytes(4));
        mkdir($tmp, 0700);
        $result = ChildPhp::run(<<<'PHP'
            echo json_encode(smtp34_settings()), "\n";
            PHP, [], ['TMPDIR' => $tmp]);
        $this->assertSame(0, $result['code'], $result['stderr']);
        $this->assertSame(false, json_decode($result['stdout'], true)['enabled'], 'disabled after install');
        $this->assertFileExists($tmp . '/smtp34-' . getmyuid() . '/smtp34.db', 'made under the temp dir, by the first call');
    }

    public function testSeveralWorkersShareOneDatabase(): void
    {
        $server = $this->authServer();
        $this->account($server);
        $code = <<<'PHP'
            for ($i = 0; $i < 10; $i++) {
                if (!custom_mail("u$i@mail.ru", 's', "b\n", 'From: shop@site.ru')) { echo smtp34_journal(1)[0]['reply'], "\n"; }
            }
            PHP;
        $ini = self::sharedIni();
        $before = smtp34_journal(1)[0]['id'] ?? 0;

        $workers = array_map(static fn () => ChildPhp::start($code, $ini), range(1, 4));
        foreach ($workers as $wait) {
            $result = $wait();
            $this->assertSame(0, $result['code'], $result['stderr']);
            $this->assertSame('', $result['stdout']);
        }

        $this->assertCount(40, $server->received());
        $rows = array_filter(smtp34_journal(100), static fn ($row) => $row['id'] > $before);
        $this->assertCount(40, $rows);
        $this->assertSame(['sent'], array_values(array_unique(array_column($rows, 'status'))));
    }

    public function testTheJournalKeepsJournalDaysAndCapsWhatItStores(): void
    {
        $ini = ChildPhp::freshIni();
        $server = $this->authServer();
        $code = self::saveAccountCode($server) . <<<'PHP'
            smtp34_settings(['enabled' => true, 'journal_days' => 1]);
            for ($i = 0; $i < 3; $i++) {
                custom_mail("old$i@mail.ru", '=?UTF-8?B?' . base64_encode(str_repeat('Т', 2 * 1024 * 1024)) . '?=', "b\n", 'From: shop@site.ru');
            }
            echo json_encode(array_map(static fn ($r) => mb_strlen($r['subject']), smtp34_journal(10))), "\n";
            PHP;
        $first = ChildPhp::run($code, $ini);
        $this->assertSame(0, $first['code'], $first['stderr']);
        $this->assertSame("[1000,1000,1000]\n", $first['stdout'], '2 MB subjects are kept as 1000 characters');

        // two days later
        self::sqlite($ini['smtp34.db'], 'UPDATE journal SET time = time - 2 * 86400');
        $second = ChildPhp::run(sprintf(<<<'PHP'
            var_dump(custom_mail('new@mail.ru', 's', "b\n", 'From: shop@site.ru'));
            echo json_encode(array_column(smtp34_journal(10), 'recipients')), "\n";
            PHP), $ini);
        $this->assertSame("bool(true)\n[\"new@mail.ru\"]\n", $second['stdout'], 'rows older than journal_days are gone: ' . $second['stderr']);
    }

    public function testANulInAKeyStillGivesAValueErrorNamingIt(): void
    {
        foreach ([static fn () => smtp34_settings(["bad\0key" => 1]), static fn () => smtp34_account_save(["email\0" => 'a@b.ru'])] as $call) {
            try {
                $call();
                $this->fail('no exception');
            } catch (ValueError $e) {
                $this->assertMatchesRegularExpression('/^(bad\\\\0key|email\\\\0): is not (a setting|an account field)$/', $e->getMessage());
            }
        }
    }

    public function testPhpinfoShowsWhetherTheAdminHashIsSetButNotTheHash(): void
    {
        $hash = password_hash('secret', PASSWORD_DEFAULT);
        exec(escapeshellarg(PHP_BINARY) . ' -n -d extension=' . escapeshellarg(ChildPhp::extension()) . ' -d smtp34.admin_password_hash=' . escapeshellarg($hash) . ' --ri smtp34', $out);
        $text = implode("\n", $out);
        $this->assertStringContainsString('smtp34.admin_password_hash => (set)', $text);
        $this->assertStringNotContainsString($hash, $text);
        $this->assertStringNotContainsString(substr($hash, 7), $text);
    }

    public function testAMissingKeyIsNeverReplacedWhilePasswordsNeedIt(): void
    {
        $ini = ChildPhp::freshIni();
        $server = $this->authServer();
        $save = self::saveAccountCode($server);
        $this->assertSame(0, ChildPhp::run($save, $ini)['code']);
        unlink($ini['smtp34.key_file']);

        $result = ChildPhp::run('try { ' . $save . ' } catch (Smtp34\Exception $e) { echo $e->getMessage(), "\n"; }', $ini);
        $this->assertStringContainsString("the key file {$ini['smtp34.key_file']} is missing, and the database holds passwords sealed with it", $result['stdout']);
        $this->assertFileDoesNotExist($ini['smtp34.key_file'], 'no new key was made');
        exec(escapeshellarg(PHP_BINARY) . ' -n -d extension=' . escapeshellarg(ChildPhp::extension()) . ' -d smtp34.db=' . escapeshellarg($ini['smtp34.db'])
            . ' -d smtp34.key_file=' . escapeshellarg($ini['smtp34.key_file']) . ' --ri smtp34', $out);
        $this->assertStringContainsString("Key file => MISSING: the database holds passwords sealed with {$ini['smtp34.key_file']}", implode("\n", $out));
    }
}

<?php
declare(strict_types=1);

/**
 * When smtp34 is disabled, or no account matches and fallback is 'mail', the
 * letter goes to PHP's own mail() untouched. Shown in a child PHP whose
 * sendmail_path writes what mail() hands it to a file.
 */
final class FallbackTest extends Smtp34TestCase
{
    private function runChild(array $settings, string $extra = ''): array
    {
        $out = sys_get_temp_dir() . '/smtp34-sendmail-' . bin2hex(random_bytes(4));
        $code = sprintf(<<<'PHP'
            smtp34_settings(%s);
            %s
            $headers = "From: nobody@other.ru\r\nX-Smtp34-Mailing: 5\r\nContent-Type: text/plain; charset=UTF-8";
            var_dump(custom_mail('user@mail.ru', '=?UTF-8?B?0KLQtdC80LA=?=', "Тело\n", $headers, '-fbounce@other.ru'));
            echo json_encode(smtp34_journal(1)[0]), "\n";
            PHP, var_export($settings, true), $extra);
        // PHP appends the sendmail parameters (-f...) to sendmail_path; this fake records both.
        file_put_contents("$out.sh", "#!/bin/sh\necho \"\$@\" > $out.args\ncat > $out\n");
        chmod("$out.sh", 0700);
        $result = ChildPhp::run($code, ChildPhp::freshIni() + ['sendmail_path' => "$out.sh"]);
        $this->assertSame(0, $result['code'], $result['stderr']);
        $lines = explode("\n", trim($result['stdout']));
        $handed = is_file($out) ? file_get_contents($out) . "\nARGS: " . file_get_contents("$out.args") : null;
        @unlink($out);
        @unlink("$out.args");
        @unlink("$out.sh");
        return [$lines[0], json_decode($lines[1], true), $handed];
    }

    public function testDisabledModuleBehavesLikeMail(): void
    {
        [$returned, $row, $handed] = $this->runChild(['enabled' => false]);

        $this->assertSame('bool(true)', $returned);
        $this->assertSame('disabled', $row['status']);
        $this->assertNotNull($handed, 'PHP mail() was called');
        $this->assertStringContainsString("To: user@mail.ru\r\n", $handed);
        $this->assertStringContainsString("Subject: =?UTF-8?B?0KLQtdC80LA=?=\r\n", $handed);
        $this->assertStringContainsString('X-Smtp34-Mailing: 5', $handed, 'unchanged: even our marker stays, as without smtp34');
        $this->assertStringContainsString("Тело\n", $handed);
        $this->assertStringContainsString('ARGS: -fbounce@other.ru', $handed);
    }

    public function testNoAccountWithFallbackMailHandsTheLetterToMail(): void
    {
        [$returned, $row, $handed] = $this->runChild(['enabled' => true, 'fallback' => 'mail'],
            "smtp34_account_save(['email' => 'shop@site.ru', 'host' => '127.0.0.1', 'port' => 9], false);");

        $this->assertSame('bool(true)', $returned);
        $this->assertSame('fallback', $row['status']);
        $this->assertNull($row['account_id']);
        $this->assertStringContainsString('no active account for nobody@other.ru', $row['reply']);
        $this->assertTrue($row['mailing']);
        $this->assertNotNull($handed);
    }

    public function testNoAccountWithFallbackNoneRefuses(): void
    {
        [$returned, $row, $handed] = $this->runChild(['enabled' => true, 'fallback' => 'none']);

        $this->assertSame('bool(false)', $returned);
        $this->assertSame('refused', $row['status']);
        $this->assertNull($handed, 'mail() was not called');
    }
}

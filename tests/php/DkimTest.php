<?php
declare(strict_types=1);

/**
 * DKIM (SPEC §9): keys generated and imported, the TXT record to publish, and
 * letters signed once when rendered, verified by Debian's python3-dkim
 * (tests/dkim_verify.py) with DNS answered from smtp34_dkim_list().
 */
final class DkimTest extends Smtp34TestCase
{
    protected function setUp(): void
    {
        parent::setUp();
        foreach (smtp34_dkim_list() as $key) {
            smtp34_dkim_delete($key['id']);
        }
    }

    protected function tearDown(): void
    {
        foreach (smtp34_dkim_list() as $key) {
            smtp34_dkim_delete($key['id']);
        }
        parent::tearDown();
    }

    /** What tests/dkim_verify.py says of a letter as the server received it. */
    private static function verify(string $raw): string
    {
        $records = [];
        foreach (smtp34_dkim_list() as $key) {
            $records[$key['dns_name']] = $key['dns_value'];
        }
        $dir = sys_get_temp_dir() . '/smtp34-dkim-' . bin2hex(random_bytes(4));
        mkdir($dir);
        file_put_contents("$dir/letter", $raw);
        file_put_contents("$dir/records.json", json_encode($records));
        exec('/usr/bin/python3 ' . escapeshellarg(__DIR__ . '/../dkim_verify.py') . ' ' . escapeshellarg("$dir/letter") . ' '
            . escapeshellarg("$dir/records.json") . ' 2>&1', $output, $status);
        array_map('unlink', glob("$dir/*"));
        rmdir($dir);
        return implode("\n", $output) . ($status === 0 ? '' : " (exit $status)");
    }

    private static function openssl(string $command): string
    {
        $pem = shell_exec("openssl $command 2>/dev/null");
        self::assertIsString($pem);
        return $pem;
    }

    public function testGeneratedAndImportedKeysSignLettersThatAnIndependentVerifierAccepts(): void
    {
        $server = $this->authServer();
        $this->account($server);
        $ed = smtp34_dkim_save(['domain' => 'site.ru', 'selector' => 'ed', 'generate' => 'ed25519']);
        smtp34_dkim_save(['domain' => 'shop.ru', 'selector' => 'rsa', 'generate' => 'rsa-2048']);
        smtp34_dkim_save(['domain' => 'pkcs1.ru', 'selector' => 's1', 'private_key' => self::openssl('genrsa -traditional 2048')]);
        smtp34_dkim_save(['domain' => 'pkcs8.ru', 'selector' => 's8', 'private_key' => self::openssl('genpkey -algorithm ed25519')]);

        $keys = array_column(smtp34_dkim_list(), null, 'domain');
        $this->assertSame(['pkcs8.ru', 'pkcs1.ru', 'shop.ru', 'site.ru'], array_keys($keys), 'newest first');
        $this->assertSame('ed._domainkey.site.ru', $keys['site.ru']['dns_name']);
        $this->assertSame('ed25519-sha256', $keys['site.ru']['algorithm']);
        $this->assertSame('rsa-sha256', $keys['pkcs1.ru']['algorithm']);
        $this->assertStringStartsWith('v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA', $keys['shop.ru']['dns_value']);
        $this->assertSame(['id', 'domain', 'selector', 'algorithm', 'active', 'dns_name', 'dns_value', 'created_at'], array_keys($keys['site.ru']));
        $this->assertStringNotContainsString('PRIVATE', var_export(smtp34_dkim_list(), true));

        $cp = static fn (string $s): string => mb_convert_encoding($s, 'Windows-1251', 'UTF-8');
        $letters = [
            'site.ru' => ['Магазин <shop@site.ru>', "Здравствуйте!\n.\nстрока\n", 'UTF-8'],
            'shop.ru' => ['news@shop.ru', "plain\n", 'UTF-8'],
            'pkcs1.ru' => ['a@pkcs1.ru', $cp("Привет из windows-1251\n"), 'windows-1251'],
            'pkcs8.ru' => ['b@pkcs8.ru', "x\n", 'UTF-8'],
            'news.site.ru' => ['digest@news.site.ru', "under the parent's key\n", 'UTF-8'],
        ];
        foreach (['news@shop.ru', 'a@pkcs1.ru', 'b@pkcs8.ru', 'digest@news.site.ru', 'x@unsigned.ru'] as $email) {
            $this->account($server, ['email' => $email], false);
        }
        foreach ($letters as $domain => [$from, $body, $charset]) {
            $headers = Letters::headers($from, ['Reply-To: help@site.ru', 'Bcc: hidden@mail.ru'], $charset);
            $this->assertTrue(custom_mail('user@mail.ru', Letters::subject($charset === 'UTF-8' ? 'Тема' : $cp('Тема'), $charset), $body, $headers), $domain);
        }
        $received = $server->received();
        $this->assertCount(5, $received);
        $signedBy = [];
        foreach ($received as $letter) {
            $verdict = self::verify($letter['raw']);
            $this->assertStringStartsWith('pass', $verdict, $letter['raw']);
            $signedBy[] = $verdict;
            [$head] = self::split($letter['raw']);
            $this->assertSame(1, substr_count($head, 'DKIM-Signature:'));
            // Bcc is neither sent nor signed (the signature's own base64 may spell "bCc": look at h= and the header names)
            $this->assertMatchesRegularExpression('/\bh=([^;]+);/', $head);
            preg_match('/\bh=([^;]+);/', $head, $signed);
            $this->assertStringNotContainsStringIgnoringCase('bcc', $signed[1]);
            $this->assertDoesNotMatchRegularExpression('/^bcc:/im', $head);
            $this->assertMatchesRegularExpression('/c=relaxed\/relaxed/', $head);
        }
        $this->assertSame(['pass d=site.ru s=ed', 'pass d=shop.ru s=rsa', 'pass d=pkcs1.ru s=s1', 'pass d=pkcs8.ru s=s8', 'pass d=site.ru s=ed'], $signedBy);

        // a letter whose domain has no key goes out unsigned; a deactivated key stops signing
        smtp34_dkim_save(['id' => $ed, 'active' => false]);
        $this->assertTrue(custom_mail('user@mail.ru', 's', "b\n", 'From: shop@site.ru'));
        $this->assertTrue(custom_mail('user@mail.ru', 's', "b\n", 'From: x@unsigned.ru'));
        foreach (array_slice($server->received(), 5) as $letter) {
            $this->assertStringNotContainsString('DKIM-Signature', $letter['raw']);
        }
    }

    public function testALetterRetriedFromTheOutboxSendsTheSameSignedBytes(): void
    {
        $flag = sys_get_temp_dir() . '/smtp34-misbehave-' . bin2hex(random_bytes(4));
        touch($flag);
        $server = $this->authServer(['drop-after-data' => true, 'misbehave-while' => $flag]);
        $this->account($server, [], false);
        smtp34_dkim_save(['domain' => 'site.ru', 'selector' => 'mail', 'generate' => 'ed25519']);

        $this->assertTrue(custom_mail('user@mail.ru', 'Retry', "body\n", 'From: shop@site.ru'));
        $this->assertSame('queued', $this->lastJournal()['status']);
        sleep(1);
        unlink($flag);
        $flushed = smtp34_outbox_flush(100, true);
        $this->assertSame(1, $flushed['sent'], json_encode($flushed));

        $received = $server->received();
        $this->assertNotEmpty($received);
        $last = end($received);
        $this->assertStringStartsWith('pass d=site.ru s=mail', self::verify($last['raw']));
        // the signature was made before the letter entered the outbox: its t= is not the retry's time
        $this->assertSame(1, substr_count(self::split($last['raw'])[0], 'DKIM-Signature:'));
    }

    public function testBadKeysAndFieldsAreRefusedByName(): void
    {
        $cases = [
            'domain' => ['selector' => 's', 'generate' => 'ed25519'],
            'selector' => ['domain' => 'site.ru', 'selector' => 'a b', 'generate' => 'ed25519'],
            'private_key' => ['domain' => 'site.ru', 'selector' => 's', 'private_key' => "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"],
            'generate' => ['domain' => 'site.ru', 'selector' => 's', 'generate' => 'dsa-1024'],
            'colour' => ['domain' => 'site.ru', 'selector' => 's', 'generate' => 'ed25519', 'colour' => 'red'],
        ];
        foreach ($cases as $field => $key) {
            try {
                smtp34_dkim_save($key);
                $this->fail("$field accepted");
            } catch (ValueError $e) {
                $this->assertStringContainsString($field, $e->getMessage());
                $this->assertStringNotContainsString('AAAA', $e->getMessage());
            }
        }
        smtp34_dkim_save(['domain' => 'site.ru', 'selector' => 's', 'generate' => 'ed25519']);
        $this->expectException(ValueError::class);
        smtp34_dkim_save(['domain' => 'SITE.ru', 'selector' => 'S', 'generate' => 'ed25519']);
    }

    public function testTheDkimPageTellsWhetherDnsPublishesTheKey(): void
    {
        require_once __DIR__ . '/../../php/smtp34.smtp/lib/autoload.php';
        smtp34_dkim_save(['domain' => 'site.ru', 'selector' => 'mail', 'generate' => 'rsa-2048']);
        [$key] = smtp34_dkim_list();
        // shaped as dns_get_record($name, DNS_TXT) answers: a long record comes as several strings, joined in 'txt'
        $answer = static fn (string $value) => static fn (string $name) => $name === 'mail._domainkey.site.ru'
            ? [['host' => $name, 'class' => 'IN', 'ttl' => 300, 'type' => 'TXT', 'txt' => $value, 'entries' => str_split($value, 255)]] : false;
        $this->assertSame(Smtp34\Admin\Dkim::PUBLISHED, Smtp34\Admin\Dkim::dnsState($key, $answer($key['dns_value'])));
        // a DNS host that shows the record with spaces inside p= still publishes it
        $spaced = preg_replace('/(p=.{40})/', '$1 ', $key['dns_value']);
        $this->assertSame(Smtp34\Admin\Dkim::PUBLISHED, Smtp34\Admin\Dkim::dnsState($key, $answer($spaced)));
        $other = smtp34_dkim_save(['domain' => 'other.ru', 'selector' => 'mail', 'generate' => 'rsa-2048']);
        $otherValue = array_column(smtp34_dkim_list(), 'dns_value', 'id')[$other];
        $this->assertSame(Smtp34\Admin\Dkim::DIFFERS, Smtp34\Admin\Dkim::dnsState($key, $answer($otherValue)));
        $this->assertSame(Smtp34\Admin\Dkim::MISSING, Smtp34\Admin\Dkim::dnsState($key, $answer('v=spf1 -all')));
        $this->assertSame(Smtp34\Admin\Dkim::MISSING, Smtp34\Admin\Dkim::dnsState($key, static fn () => false));
        // and PHP's own lookup of a name that cannot exist (RFC 2606)
        $this->assertSame(Smtp34\Admin\Dkim::MISSING, Smtp34\Admin\Dkim::dnsState(['dns_name' => 'mail._domainkey.smtp34.invalid'] + $key));
    }

    public function testDomainsRecentLettersCameFromWithoutAKeyAreNamed(): void
    {
        require_once __DIR__ . '/../../php/smtp34.smtp/lib/autoload.php';
        $row = static fn (string $from, string $status = 'sent') => ['from' => $from, 'status' => $status];
        $rows = [$row('shop@site.ru'), $row('Магазин <news@mail.site.ru>'), $row('a@other.ru'), $row('b@other.ru', 'queued'),
            $row('c@third.ru', 'failed'), $row('d@Fourth.RU'), $row('not an address')];
        $keys = [['domain' => 'site.ru', 'active' => true], ['domain' => 'fourth.ru', 'active' => false]];
        $this->assertSame(['other.ru' => 2, 'fourth.ru' => 1], Smtp34\Admin\Dkim::unsignedDomains($rows, $keys),
            'a parent domain\'s key signs its subdomains; an inactive key signs nothing; a failed letter went nowhere');
    }
}

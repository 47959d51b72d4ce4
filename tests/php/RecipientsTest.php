<?php
declare(strict_types=1);

/**
 * Recipients exactly as meant: address lists are parsed strictly, an entry
 * that does not parse is skipped and named (never guessed at), and the
 * addresses Bitrix's header encoder hides inside encoded words are found.
 */
final class RecipientsTest extends Smtp34TestCase
{
    /** @dataProvider injectedSeparators */
    public function testATextThatIsNotAnAddressListSendsNothing(string $to): void
    {
        $server = $this->authServer();
        $this->account($server);

        $this->assertFalse(custom_mail($to, 's', "b\n", 'From: shop@site.ru'));

        $this->assertSame([], $server->received());
        $row = $this->lastJournal();
        $this->assertSame('failed', $row['status']);
        $this->assertStringStartsWith('no valid recipients; not valid addresses, skipped: ', $row['reply']);
        $this->assertSame('', $row['recipients']);
    }

    public static function injectedSeparators(): array
    {
        return [
            'space' => ['user@example.test Bcc: evil2@evil.test'],
            'CRLF' => ["user@example.test\r\nBcc: evil2@evil.test"],
            'LF' => ["user@example.test\nBcc: evil2@evil.test"],
            'bare CR' => ["user@example.test\rBcc: evil2@evil.test"],
            'TAB' => ["user@example.test\tBcc: evil2@evil.test"],
            'U+2028' => ["user@example.test\u{2028}Bcc: evil2@evil.test"],
            'NBSP' => ["user@example.test\u{a0}Bcc: evil2@evil.test"],
            'a group' => ['Team:evil@evil.test'],
            'an address as a display name' => ['user@example.test <evil@evil.test>'],
        ];
    }

    public function testTheSameInACcHeaderOnlySkipsThatEntry(): void
    {
        $server = $this->authServer();
        $this->account($server);

        $this->assertTrue(custom_mail('user@mail.ru', 's', "b\n", "From: shop@site.ru\r\nCc: copy@mail.ru, user@example.test Bcc: evil@evil.test"));

        $this->assertSame(['user@mail.ru', 'copy@mail.ru'], $server->only()['meta']['rcpt_tos']);
        $this->assertStringContainsString('skipped: user@example.test Bcc: evil@evil.test', $this->lastJournal()['reply']);
    }

    public function testABareCrInTheHeadersIsASpaceNotANewHeader(): void
    {
        $server = $this->authServer();
        $this->account($server);

        $this->assertTrue(custom_mail('user@mail.ru', 's', "b\n", "From: shop@site.ru\r\nReply-To: a@b.c\rBcc: evil@x.test"));

        $letter = $server->only();
        $this->assertSame(['user@mail.ru'], $letter['meta']['rcpt_tos']);
        [$head] = self::split($letter['raw']);
        $this->assertStringContainsString("\r\nReply-To: a@b.c Bcc: evil@x.test\r\n", $head);
        $this->assertStringNotContainsString("\r", str_replace("\r\n", '', $head), 'no bare CR goes out');
    }

    /** @dataProvider charsets */
    public function testAddressesBitrixHidInsideEncodedWordsAllReceiveTheLetter(string $charset): void
    {
        $server = $this->authServer();
        $this->account($server);
        $in = static fn (string $text): string => $charset === 'UTF-8' ? $text : mb_convert_encoding($text, $charset, 'UTF-8');
        // a template with Cyrillic names, through Bitrix's own encoders
        $to = Letters::bitrixHeaderFrom($in('Иван Петров <ivan@shop.ru>, Мария Сидорова <maria@shop.ru>'), $charset);
        $cc = Letters::bitrixHeaderFrom($in('"Отдел продаж" <sales@shop.ru>, Бухгалтерия <acc@shop.ru>'), $charset);
        $bcc = Letters::bitrixMimeString($in('Директор <boss@shop.ru>, archive@shop.ru, Склад <stock@shop.ru>'), $charset);
        $this->assertStringNotContainsString('ivan@shop.ru', $to, 'hidden, as Bitrix sends it');
        $this->assertStringNotContainsString('boss@shop.ru', $bcc);

        $headers = Letters::headers('shop@site.ru', ["CC: $cc", "BCC: $bcc"], $charset);
        $this->assertTrue(custom_mail($to, Letters::subject($in('Заказ'), $charset), $in("Текст\n"), $headers));

        $letter = $server->only();
        $this->assertSame(
            ['ivan@shop.ru', 'maria@shop.ru', 'sales@shop.ru', 'acc@shop.ru', 'boss@shop.ru', 'archive@shop.ru', 'stock@shop.ru'],
            $letter['meta']['rcpt_tos']
        );
        [$head] = self::split($letter['raw']);
        $word = static fn (string $name): string => '=?UTF-8?B?' . base64_encode($name) . '?=';
        // every display name encoded on its own, so mail clients show every address
        $this->assertStringStartsWith('To: ' . $word('Иван Петров') . ' <ivan@shop.ru>, ' . $word('Мария Сидорова') . " <maria@shop.ru>\r\n", $head);
        $this->assertStringContainsString("\r\nCC: " . $word('Отдел продаж') . ' <sales@shop.ru>, ' . $word('Бухгалтерия') . " <acc@shop.ru>\r\n", $head);
        $this->assertDoesNotMatchRegularExpression('/^bcc:/mi', $head, 'no Bcc header goes out');
        $this->assertSame('ivan@shop.ru, maria@shop.ru, sales@shop.ru, acc@shop.ru, boss@shop.ru, archive@shop.ru, stock@shop.ru', $this->lastJournal()['recipients']);
    }

    public static function charsets(): array
    {
        return [['UTF-8'], ['windows-1251']];
    }

    public function testAnOrdinaryEncodedNameIsLeftAsWritten(): void
    {
        $server = $this->authServer();
        $this->account($server);
        $to = '=?UTF-8?B?' . base64_encode('Рога, копыта и Ко') . '?= <buyer@mail.ru>';

        $this->assertTrue(custom_mail($to, 's', "b\n", 'From: shop@site.ru'));

        $letter = $server->only();
        $this->assertSame(['buyer@mail.ru'], $letter['meta']['rcpt_tos']);
        $this->assertStringStartsWith("To: $to\r\n", $letter['raw']);
    }

    public function testInternationalDomainsGoInPunycodeAndOnlyAnAddressNeedingSmtputf8IsSkipped(): void
    {
        $server = $this->authServer(['no-smtputf8' => true]);
        $this->account($server);

        $this->assertTrue(custom_mail('good@example.test, ivan@пример.рф, Иван@пример.рф', 's', "b\n", 'From: shop@site.ru'));

        $this->assertSame(['good@example.test', 'ivan@xn--e1afmkfd.xn--p1ai'], $server->only()['meta']['rcpt_tos']);
        $row = $this->lastJournal();
        $this->assertSame('sent', $row['status']);
        $this->assertStringContainsString('refused Иван@xn--e1afmkfd.xn--p1ai: not sent: the address is not ASCII and the server does not offer SMTPUTF8', $row['reply']);

        $utf8 = $this->authServer();
        $this->account($utf8);
        $this->assertTrue(custom_mail('Иван@пример.рф', 's', "b\n", 'From: shop@site.ru'));
        $letter = $utf8->only();
        $this->assertSame(['Иван@xn--e1afmkfd.xn--p1ai'], $letter['meta']['rcpt_tos']);
        $this->assertContains('SMTPUTF8', $letter['meta']['mail_options']);
    }
}

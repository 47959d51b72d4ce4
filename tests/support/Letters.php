<?php
declare(strict_types=1);

/** Letters shaped the way Bitrix's bxmail() hands them to custom_mail(). */
final class Letters
{
    public static function subject(string $text, string $charset = 'UTF-8'): string
    {
        return '=?' . $charset . '?B?' . base64_encode($text) . '?=';
    }

    /** Bitrix's header block: CRLF between lines, no trailing newline. */
    public static function headers(string $from, array $extra = [], string $charset = 'UTF-8'): string
    {
        $lines = array_merge([
            "From: $from",
            'Reply-To: reply@site.ru',
            'X-Priority: 3 (Normal)',
            'Date: Sun, 22 Nov 2026 10:00:00 +0300',
            'MIME-Version: 1.0',
            "Content-Type: text/plain; charset=$charset",
            'Content-Transfer-Encoding: 8bit',
            'X-EVENT_NAME: USER_PASS_REQUEST',
            'X-MID: 1024.15',
        ], $extra);
        return implode("\r\n", $lines);
    }

    /** multipart/mixed → alternative, with a base64 attachment; body lines end in LF. */
    public static function multipart(string $boundary = '-------mix1a2b3c'): array
    {
        $alt = '-------alt4d5e6f';
        $attachment = chunk_split(base64_encode(random_bytes(3000) . "\x00\xff"), 76, "\n");
        $body = "--$boundary\n"
            . "Content-Type: multipart/alternative; boundary=\"$alt\"\n\n"
            . "--$alt\nContent-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 8bit\n\nЗдравствуйте!\n.\n..две точки\n\n"
            . "--$alt\nContent-Type: text/html; charset=UTF-8\nContent-Transfer-Encoding: 8bit\n\n<p>Здравствуйте!</p>\n\n"
            . "--$alt--\n\n"
            . "--$boundary\nContent-Type: application/pdf; name=\"invoice.pdf\"\nContent-Transfer-Encoding: base64\n"
            . "Content-Disposition: attachment; filename=\"invoice.pdf\"\n\n$attachment\n"
            . "--$boundary--\n";
        $contentType = "Content-Type: multipart/mixed; boundary=\"$boundary\"";
        return [$body, $contentType];
    }

    /** What we expect on the wire for a body: CRLF line endings. */
    public static function crlf(string $body): string
    {
        return preg_replace("/\r?\n/", "\r\n", $body);
    }

    /**
     * What Bitrix's Mail::encodeHeaderFrom() makes of a To or Cc value: one
     * encoded word over the value from its start to its last 8-bit byte,
     * the rest as is (the addresses in between end up inside the word).
     */
    public static function bitrixHeaderFrom(string $value, string $charset): string
    {
        for ($end = strlen($value); $end > 0 && ord($value[$end - 1]) < 0x80; $end--) {
        }
        return $end === 0 ? $value : '=?' . $charset . '?B?' . base64_encode(substr($value, 0, $end)) . '?=' . substr($value, $end);
    }

    /** What Bitrix's Mail::encodeMimeString() makes of a Bcc value: 40-byte pieces, each an encoded word, folded. */
    public static function bitrixMimeString(string $value, string $charset): string
    {
        $words = array_map(static fn (string $piece) => '=?' . $charset . '?B?' . base64_encode($piece) . '?=', str_split($value, 40));
        return implode("\r\n\t", $words);
    }
}

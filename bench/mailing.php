<?php
// One sender's mailing step, timed: N Bitrix-style letters into one SMTP
// server, the way each library is used for a mailing. Prints letters/second.
//
//   php bench/mailing.php <smtp34|smtp34-background|smtp34-handover|phpmailer|phpmailer-each|symfony> <port> <letters>
//
// smtp34-handover (background delivery) prints the median and the 99th
// percentile of one custom_mail() call in microseconds instead, and leaves
// the letters to the sender thread, which PHP's shutdown gives `timeout` to
// finish them.
//
// smtp34 needs the extension loaded (bench/run does it) and sends through
// custom_mail() with the default settings (logs on, level 2).
declare(strict_types=1);

[, $sender, $port, $count] = $argv + [null, 'smtp34', '2525', '2000'];
$port = (int) $port;
$count = (int) $count;

// ~2 KB of UTF-8 8-bit text, as a Bitrix mailing letter carries
$body = str_repeat("Здравствуйте! Новая коллекция уже в магазине, скидки до 30% до конца недели.\n", 14);
$subject = 'Новости магазина';
$from = 'shop@site.ru';
$fromName = 'Интернет-магазин';

function smtp34_bench_headers(string $fromName, string $from, int $i): string
{
    return implode("\r\n", [
        'From: =?UTF-8?B?' . base64_encode($fromName) . "?= <$from>",
        'Reply-To: support@site.ru',
        'X-Priority: 3 (Normal)',
        'MIME-Version: 1.0',
        'Content-Type: text/plain; charset=UTF-8',
        'Content-Transfer-Encoding: 8bit',
        "X-Smtp34-Mailing: 42",
        "X-MID: 42.$i",
    ]);
}

$started = microtime(true);
switch ($sender) {
    case 'smtp34-handover':
        smtp34_settings(['enabled' => true, 'delivery' => 'background']);
        smtp34_account_save(['name' => $fromName, 'email' => $from, 'host' => '127.0.0.1', 'port' => $port, 'auth' => 'none'], false);
        $times = [];
        for ($i = 0; $i < $count; $i++) {
            $begun = hrtime(true);
            if (!custom_mail("user$i@example.test", '=?UTF-8?B?' . base64_encode($subject) . '?=', $body, smtp34_bench_headers($fromName, $from, $i))) {
                fwrite(STDERR, "letter $i refused\n");
                exit(1);
            }
            $times[] = (hrtime(true) - $begun) / 1000;
        }
        sort($times);
        if ($times !== []) {
            printf("%.1f %.1f\n", $times[intdiv(count($times), 2)], $times[max(0, (int) ceil(count($times) * 0.99) - 1)]);
        }
        exit(0);
    case 'smtp34':
    case 'smtp34-background':
        $background = $sender === 'smtp34-background';
        $dir = sys_get_temp_dir() . '/smtp34-bench-' . getmypid();
        // wait: each custom_mail() returns after the server's reply; background: timed until the last letter is delivered
        smtp34_settings(['enabled' => true, 'delivery' => $background ? 'background' : 'wait']);
        smtp34_account_save(['name' => $fromName, 'email' => $from, 'host' => '127.0.0.1', 'port' => $port, 'auth' => 'none'], false);
        $started = microtime(true);
        for ($i = 0; $i < $count; $i++) {
            if (!custom_mail("user$i@example.test", '=?UTF-8?B?' . base64_encode($subject) . '?=', $body, smtp34_bench_headers($fromName, $from, $i))) {
                fwrite(STDERR, "letter $i failed: " . smtp34_journal(1)[0]['reply'] . "\n");
                exit(1);
            }
        }
        // the thread sends in order of the outbox: once the newest letter is settled, so is (nearly) every other;
        // asking for the newest row costs little, unlike listing a large outbox every few milliseconds
        $queued = static fn (): bool => array_filter(smtp34_journal($count), static fn ($row) => $row['status'] === 'queued') !== [];
        for ($waited = 0; $background && $waited < 60000 && (smtp34_journal(1)[0]['status'] === 'queued' || $queued()); $waited++) {
            usleep(2_000);
        }
        $seconds = microtime(true) - $started;
        // queued letters would make a fast but false figure: every one must have been sent
        $unsent = array_filter(smtp34_journal($count), static fn ($row) => $row['status'] !== 'sent');
        if ($unsent !== []) {
            fwrite(STDERR, count($unsent) . " letters not sent, e.g.: " . reset($unsent)['reply'] . "\n");
            exit(1);
        }
        printf("%.1f\n", $count / $seconds);
        exit(0);
    case 'phpmailer':
    case 'phpmailer-each':
        require '/usr/share/php/libphp-phpmailer/autoload.php';
        $mail = new PHPMailer\PHPMailer\PHPMailer(true);
        $mail->isSMTP();
        $mail->Host = '127.0.0.1';
        $mail->Port = $port;
        $mail->SMTPAuth = false;
        $mail->SMTPAutoTLS = false;
        $mail->SMTPKeepAlive = $sender === 'phpmailer';
        $mail->SMTPOptions = ['socket' => ['tcp_nodelay' => true]];
        $mail->CharSet = 'UTF-8';
        $mail->Encoding = '8bit';
        $mail->setFrom($from, $fromName);
        $mail->addReplyTo('support@site.ru');
        $mail->Priority = 3;
        $mail->addCustomHeader('X-Mailing', '42');
        $mail->Subject = $subject;
        $mail->Body = $body;
        for ($i = 0; $i < $count; $i++) {
            $mail->clearAddresses();
            $mail->addAddress("user$i@example.test");
            $mail->send();
        }
        $mail->smtpClose();
        break;
    case 'symfony':
        require '/usr/share/php/Symfony/Component/Mailer/autoload.php';
        $transport = Symfony\Component\Mailer\Transport::fromDsn("smtp://127.0.0.1:$port?verify_peer=0");
        $mailer = new Symfony\Component\Mailer\Mailer($transport);
        for ($i = 0; $i < $count; $i++) {
            $email = (new Symfony\Component\Mime\Email())
                ->from(new Symfony\Component\Mime\Address($from, $fromName))
                ->to("user$i@example.test")
                ->replyTo('support@site.ru')
                ->priority(Symfony\Component\Mime\Email::PRIORITY_NORMAL)
                ->subject($subject)
                ->text($body);
            $email->getHeaders()->addTextHeader('X-Mailing', '42');
            $mailer->send($email);
        }
        break;
    default:
        fwrite(STDERR, "unknown sender $sender\n");
        exit(2);
}
$seconds = microtime(true) - $started;
printf("%.1f\n", $count / $seconds);

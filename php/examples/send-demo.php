<?php
// The main job, end to end: an account checked against a real SMTP server,
// one Bitrix-style letter through custom_mail(), the journal row.
// Run by .ci/demo, which starts the server and passes its port and login.
declare(strict_types=1);

[$port, $login, $password, $spool] = array_slice($argv, 1, 4);

echo "smtp34 ", phpversion('smtp34'), " with database ", ini_get('smtp34.db') ?: '(default)', "\n\n";
smtp34_settings(['enabled' => true]);

$account = [
    'name' => 'Интернет-магазин',
    'email' => 'shop@smtp34-demo.ru',
    'host' => '127.0.0.1',
    'port' => (int) $port,
    'security' => 'none',
    'auth' => 'login',
    'login' => $login,
    'password' => $password,
];
$existing = smtp34_resolve($account['email']);
if ($existing !== null) {
    $account['id'] = $existing;
}
$id = smtp34_account_save($account); // checks the account against the server first
echo "== account #$id saved after this check:\n", smtp34_account_check($id)['transcript'], "\n";

$headers = implode("\r\n", [
    "From: shop@smtp34-demo.ru",
    'Reply-To: support@smtp34-demo.ru',
    'X-Priority: 3 (Normal)',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=UTF-8',
    'Content-Transfer-Encoding: 8bit',
    'X-EVENT_NAME: SALE_NEW_ORDER',
    'X-MID: 1024.15',
    'BCC: manager@smtp34-demo.ru',
]);
$subject = '=?UTF-8?B?' . base64_encode('Ваш заказ №1024 принят') . '?=';
$body = "Здравствуйте!\n\nВаш заказ №1024 принят и будет отправлен завтра.\n.\nСпасибо за покупку.\n";

$to = '=?UTF-8?B?' . base64_encode('Покупатель') . '?= <buyer@example.ru>';
$accepted = custom_mail($to, $subject, $body, $headers, '-fbounce@smtp34-demo.ru', new stdClass());
$row = smtp34_journal(1)[0];
echo "== custom_mail() returned ", var_export($accepted, true), " (journal: {$row['status']}, {$row['reply']})\n\n";

// delivery = background: the page is done; this process's sender thread delivers the letter
for ($i = 0; $i < 300 && smtp34_journal(1)[0]['status'] === 'queued'; $i++) {
    usleep(50_000);
}
echo "== journal row:\n";
foreach (smtp34_journal(1)[0] as $key => $value) {
    printf("  %-12s %s\n", $key, var_export($value, true));
}

$received = glob("$spool/*.eml");
sort($received);
$last = end($received);
echo "\n== the letter as the SMTP server received it (", $last ?: 'nothing', "):\n";
if ($last) {
    echo file_get_contents($last), "\n";
    echo "envelope: ", file_get_contents(substr($last, 0, -4) . '.json'), "\n";
}
exit($accepted && smtp34_journal(1)[0]['status'] === 'sent' ? 0 : 1);

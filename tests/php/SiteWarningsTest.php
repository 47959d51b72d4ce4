<?php
declare(strict_types=1);

/**
 * `php --ri smtp34` says where a site's mail would bypass smtp34: php-fpm not
 * loading the extension, Bitrix's own SMTP on in .settings.php, another
 * custom_mail() in the site's php_interface. Run from inside a site's tree.
 */
final class SiteWarningsTest extends Smtp34TestCase
{
    private function info(string $cwd): string
    {
        $command = [PHP_BINARY, '-n', '-d', 'extension=' . ChildPhp::extension(), '-d', 'smtp34.db=' . ini_get('smtp34.db'), '--ri', 'smtp34'];
        $process = proc_open($command, [1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes, $cwd);
        $out = stream_get_contents($pipes[1]) . stream_get_contents($pipes[2]);
        $this->assertSame(0, proc_close($process), $out);
        return $out;
    }

    public function testPhpRiNamesBitrixSmtpAnotherCustomMailAndPhpFpm(): void
    {
        $root = sys_get_temp_dir() . '/smtp34-site-' . bin2hex(random_bytes(4));
        mkdir("$root/bitrix/php_interface", 0777, true);
        mkdir("$root/catalog/item", 0777, true);
        file_put_contents("$root/bitrix/.settings.php", "<?php\nreturn array (\n  'smtp' => array (\n    'value' => array ('enabled' => false, 'debug' => true),\n    'readonly' => false,\n  ),\n);\n");
        file_put_contents("$root/bitrix/php_interface/init.php", "<?php\n// function custom_mail() was here\n");

        $quiet = $this->info("$root/catalog/item");
        $this->assertMatchesRegularExpression('/^Bitrix own SMTP => off \(/m', $quiet);
        $this->assertMatchesRegularExpression('/^Other custom_mail\(\) => none in php_interface$/m', $quiet);

        file_put_contents("$root/bitrix/.settings.php", str_replace("'enabled' => false", "'enabled' => true", (string) file_get_contents("$root/bitrix/.settings.php")));
        file_put_contents("$root/bitrix/php_interface/init.php", "<?php\nfunction custom_mail(\$to, \$subject, \$message) { return mail(\$to, \$subject, \$message); }\n");
        $loud = $this->info("$root/catalog/item");
        $this->assertMatchesRegularExpression("#^Bitrix own SMTP => ON in $root/bitrix/\\.settings\\.php: Bitrix then never calls custom_mail\\(\\)#m", $loud);
        $this->assertMatchesRegularExpression("#^Other custom_mail\\(\\) => ALSO DEFINED in $root/bitrix/php_interface/init\\.php#m", $loud);

        $this->assertStringNotContainsString('Bitrix own SMTP', $this->info(sys_get_temp_dir()), 'outside a Bitrix site: nothing to say');

        if (!is_dir('/etc/php/8.2/fpm')) {
            $this->assertStringNotContainsString('php-fpm =>', $loud);
            return;
        }
        $enabled = array_filter(glob('/etc/php/8.2/fpm/conf.d/*.ini') ?: [], static fn ($f) => preg_match('/^\s*extension\s*=\s*\S*smtp34/m', (string) file_get_contents($f)));
        $this->assertMatchesRegularExpression($enabled === [] ? '/^php-fpm => does NOT load smtp34: its letters bypass it/m' : '/^php-fpm => loads smtp34 \(/m', $loud);
    }
}

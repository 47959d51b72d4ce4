<?php
declare(strict_types=1);

use Bitrix\Main\Config\Configuration;
use Bitrix\Main\Event;
use Bitrix\Main\Localization\Loc;
use Bitrix\Main\EventManager;
use Bitrix\Main\EventResult;
use Bitrix\Main\ModuleManager;
use Smtp34\Bitrix\Agent;
use Smtp34\Bitrix\EventHandler;

/** The smtp34.smtp Bitrix module over fakes of the few Bitrix core pieces it touches. */
final class BitrixModuleTest extends Smtp34TestCase
{
    private const MODULE = __DIR__ . '/../../php/smtp34.smtp';
    private string $root;
    private FakeApplication $app;

    public static function setUpBeforeClass(): void
    {
        require_once __DIR__ . '/../bitrix/fakes.php';
        require_once self::MODULE . '/install/index.php';
    }

    protected function setUp(): void
    {
        parent::setUp();
        $this->root = sys_get_temp_dir() . '/smtp34-bitrix-' . bin2hex(random_bytes(4));
        mkdir("$this->root/bitrix/admin", 0777, true);
        exec('cp -r ' . escapeshellarg(__DIR__ . '/../bitrix/core/bitrix') . ' ' . escapeshellarg($this->root));
        $_SERVER['DOCUMENT_ROOT'] = $this->root;
        Configuration::$values = [];
        $GLOBALS['SMTP34_FAKE_REDIRECTS'] = [];
        $GLOBALS['SMTP34_FAKE_RIGHTS_SAVED'] = [];
        $GLOBALS['APPLICATION'] = $this->app = new FakeApplication('W');
        EventManager::getInstance()->handlers = [];
        ModuleManager::$installed = [];
        CAgent::$agents = [];
        $_SESSION = [];
        CAdminNotify::$notes = [];
        $_REQUEST = [];
    }

    private const HANDLER = ['sender', 'OnPostingSendRecipientEmail', 'smtp34.smtp', EventHandler::class, 'onPostingSendRecipientEmail'];

    public function testInstallRegistersTheModuleTheHandlerAndTheAdminPages(): void
    {
        $this->assertTrue((new smtp34_smtp())->DoInstall());

        $this->assertTrue(ModuleManager::isModuleInstalled('smtp34.smtp'));
        $this->assertSame([self::HANDLER], EventManager::getInstance()->handlers);
        foreach (['dashboard', 'accounts', 'account_edit', 'logs', 'journal', 'outbox'] as $page) {
            $this->assertFileExists("$this->root/bitrix/admin/smtp34_$page.php");
        }
        $this->assertSame([['NAME' => '\\Smtp34\\Bitrix\\Agent::flush();', 'MODULE_ID' => 'smtp34.smtp', 'IS_PERIOD' => 'N', 'AGENT_INTERVAL' => 60]], CAgent::$agents);
        $this->assertSame([], $this->app->exceptions);
    }

    public function testUninstallRemovesWhatInstallAdded(): void
    {
        $module = new smtp34_smtp();
        $module->DoInstall();
        file_put_contents("$this->root/bitrix/admin/other_module.php", '<?php');

        $this->assertTrue($this->uninstall($module, true));

        $this->assertFalse(ModuleManager::isModuleInstalled('smtp34.smtp'));
        $this->assertSame([], EventManager::getInstance()->handlers);
        $this->assertSame([], CAgent::$agents);
        $this->assertSame(['other_module.php'], array_map('basename', glob("$this->root/bitrix/admin/*")));
    }

    /** The second uninstall step, as Bitrix's partner_modules.php runs it after the first step's form. */
    private function uninstall(smtp34_smtp $module, bool $keepData): bool
    {
        $GLOBALS['step'] = 2;
        $_REQUEST = ['savedata' => $keepData ? 'Y' : ''];
        try {
            return $module->DoUninstall();
        } finally {
            unset($GLOBALS['step']);
            $_REQUEST = [];
        }
    }

    public function testUninstallFirstAsksWhetherToKeepTheData(): void
    {
        $module = new smtp34_smtp();
        $module->DoInstall();
        ob_start();
        try {
            $module->DoUninstall();
            $this->fail('the first step ends the request');
        } catch (FakeRequestEnd $end) {
            $this->assertStringEndsWith('/install/unstep1.php', $end->getMessage());
        } finally {
            $form = (string) ob_get_clean();
        }
        $this->assertTrue(ModuleManager::isModuleInstalled('smtp34.smtp'), 'nothing removed yet');
        $this->assertStringContainsString('<input type="checkbox" name="savedata" id="savedata" value="Y" checked>', $form);
        $this->assertStringContainsString('<input type="hidden" name="step" value="2">', $form);
        $this->assertStringContainsString('Сохранить данные', $form);
        $this->assertSame('Удаление модуля «Отправка почты через SMTP (smtp34)»', $this->app->title);
    }

    public function testUninstallKeepsTheDataUnlessTheAdminUntickedIt(): void
    {
        $server = $this->authServer();
        $this->account($server, [], false);
        smtp34_settings(['enabled' => true]);
        $module = new smtp34_smtp();
        $module->DoInstall();
        $this->uninstall($module, true);
        $this->assertCount(1, smtp34_account_list(), 'kept');
        $this->assertTrue(smtp34_settings()['enabled']);

        $module->DoInstall();
        $this->uninstall($module, false);
        $this->assertSame([], smtp34_account_list(), 'deleted, passwords with them');
        $this->assertSame([], smtp34_log_list());
        $this->assertFalse(smtp34_settings()['enabled'], 'letters go to mail() again');
    }

    public function testTheModuleDescribesItselfInRussianAndEnglish(): void
    {
        $module = new smtp34_smtp();
        $this->assertSame('smtp34.smtp', $module->MODULE_ID);
        $this->assertSame('Отправка почты через SMTP (smtp34)', $module->MODULE_NAME);
        $this->assertMatchesRegularExpression('/^\d+\.\d+\.\d+$/', $module->MODULE_VERSION);
        $t = new Smtp34\Admin\I18n('en');
        $this->assertSame('Mail through SMTP (smtp34)', $t->get('MODULE_NAME'));
    }

    /** Runs the installer in a PHP process without the extension. */
    private function installElsewhere(string $before): string
    {
        $code = sprintf(<<<'PHP'
            %s
            require %s;
            require %s;
            $_SERVER['DOCUMENT_ROOT'] = %s;
            $GLOBALS['APPLICATION'] = new FakeApplication('W');
            var_dump((new smtp34_smtp())->DoInstall());
            echo implode("\n", $GLOBALS['APPLICATION']->exceptions), "\n";
            echo json_encode(Bitrix\Main\EventManager::getInstance()->handlers), "\n";
            PHP, $before, var_export(__DIR__ . '/../bitrix/fakes.php', true), var_export(self::MODULE . '/install/index.php', true), var_export($this->root, true));
        $result = ChildPhp::run($code, [], [], false);
        $this->assertSame(0, $result['code'], $result['stderr']);
        return $result['stdout'];
    }

    public function testInstallRefusesWithoutTheExtension(): void
    {
        $out = $this->installElsewhere('');
        $this->assertStringStartsWith("bool(false)\nРасширение PHP smtp34 не загружено", $out);
        $this->assertStringEndsWith("[]\n", $out, 'nothing registered');
        $this->assertSame([], glob("$this->root/bitrix/admin/*"));
    }

    public function testInstallRefusesWhenAnotherCustomMailExists(): void
    {
        $out = $this->installElsewhere('function custom_mail($to, $subject, $message, $headers = "", $params = "") { return true; }');
        $this->assertStringStartsWith("bool(false)\nФункция custom_mail() уже определена не расширением smtp34", $out);
        $this->assertStringEndsWith("[]\n", $out);
    }

    public function testTheHandlerMarksMailingsAndCustomMailRoutesThem(): void
    {
        $params = [
            'TO' => 'user@mail.ru',
            'SUBJECT' => 'Акция',
            'HEADER' => ['From' => 'Магазин <shop@site.ru>', 'X-Bitrix-Letter' => 'x'],
            'MAILING_CHAIN_ID' => 42,
        ];
        $result = EventHandler::onPostingSendRecipientEmail(new Event('sender', 'OnPostingSendRecipientEmail', [$params]));
        $this->assertSame(EventResult::SUCCESS, $result->getType());
        // what the sender module does with a handler's result
        $merged = array_merge($params, $result->getParameters());
        $this->assertSame(['From' => 'Магазин <shop@site.ru>', 'X-Bitrix-Letter' => 'x', 'X-Smtp34-Mailing' => '42'], $merged['HEADER']);

        $ordinary = $this->authServer();
        $bulk = $this->authServer();
        $this->account($ordinary, [], false);
        $bulkId = $this->account($bulk, ['mailing_first' => true], false);
        $this->account($ordinary, [], false);
        $headers = implode("\r\n", array_map(static fn ($k, $v) => "$k: $v", array_keys($merged['HEADER']), $merged['HEADER']));

        $this->assertTrue(custom_mail($merged['TO'], $merged['SUBJECT'], "b\n", $headers));

        $this->assertSame($bulkId, $this->lastJournal()['account_id']);
        $this->assertSame('42', $this->lastJournal()['mailing_id']);
        $this->assertStringNotContainsString('X-Smtp34-Mailing', $bulk->only()['raw']);
        $this->assertSame([], $ordinary->received());
    }

    public function testTheHandlerLeavesOtherLettersAlone(): void
    {
        $result = EventHandler::onPostingSendRecipientEmail(new Event('sender', 'OnPostingSendRecipientEmail', [['HEADER' => ['From' => 'a@b.ru']]]));
        $this->assertSame([], $result->getParameters());
    }

    public function testTheMenuIsUnderServicesForUsersWithRights(): void
    {
        $menu = (static fn () => include self::MODULE . '/admin/menu.php')();
        $this->assertSame('global_menu_services', $menu['parent_menu']);
        $this->assertSame('Отправка почты через SMTP', $menu['text']);
        $this->assertSame(['Сводка', 'Настройки', 'SMTP-аккаунты', 'Логи отправки писем', 'Журнал отправки', 'Очередь писем', 'Ключи DKIM'], array_column($menu['items'], 'text'));
        $this->assertSame('/bitrix/admin/settings.php?mid=smtp34.smtp&lang=ru', $menu['items'][1]['url']);

        $this->app->right = 'D';
        $this->assertFalse((static fn () => include self::MODULE . '/admin/menu.php')());
    }

    public function testTheAgentFlushesTheOutboxAndNotifiesWhileAnAccountFails(): void
    {
        $server = $this->authServer();
        $id = $this->account($server, ['password' => 'wrong'], false);
        $other = $this->account($this->authServer(), ['email' => 'other@site.ru'], false);
        $this->assertTrue(custom_mail('user@mail.ru', 's', "b\n", 'From: shop@site.ru'));
        CAdminNotify::$notes = [['TAG' => Agent::accountTag($id * 10 + 1), 'MODULE_ID' => 'smtp34.smtp', 'MESSAGE' => 'another account']];

        $this->assertSame(Agent::CALL, Agent::flush(), 'an agent returns its own call to run again');
        $mine = array_values(array_filter(CAdminNotify::$notes, static fn ($n) => $n['TAG'] === Agent::accountTag($id)));
        $this->assertCount(1, $mine);
        $this->assertStringContainsString("SMTP-аккаунт shop@site.ru (ID $id) не отправляет письма (ошибок подряд: 1): 535", $mine[0]['MESSAGE']);
        $this->assertSame(['smtp34.smtp', 'Y', 'E'], [$mine[0]['MODULE_ID'], $mine[0]['ENABLE_CLOSE'], $mine[0]['NOTIFY_TYPE']]);
        $this->assertSame([], array_filter(CAdminNotify::$notes, static fn ($n) => $n['TAG'] === Agent::accountTag($other)));
        $this->assertCount(2, CAdminNotify::$notes, "another account's note is kept: tags never contain each other");

        Agent::flush();
        $this->assertCount(2, CAdminNotify::$notes, 'one note per failing account, however often the agent runs');

        smtp34_account_save(['id' => $id, 'password' => 's3cret-pass'], false);
        smtp34_outbox_flush(100, true);
        Agent::flush();
        $this->assertSame([], array_filter(CAdminNotify::$notes, static fn ($n) => $n['TAG'] === Agent::accountTag($id)), 'removed on recovery');
        $this->assertCount(1, $server->received());
    }

    public function testTheAgentTellsWhenLettersWereGivenUp(): void
    {
        Agent::notify(['sent' => 0, 'failed' => 3, 'left' => 0], []);
        $this->assertCount(1, CAdminNotify::$notes);
        $this->assertSame('smtp34: 3 писем не удалось доставить за отведённое время (outbox_max_hours); подробности в журнале отправки.', CAdminNotify::$notes[0]['MESSAGE']);
        $module = new smtp34_smtp();
        $module->DoInstall();
        $this->uninstall($module, true);
        $this->assertSame([], CAdminNotify::$notes, 'uninstall removes its notifications');
    }

    public function testTheAgentPutsAlertsIntoBitrixNotificationsButLeavesAccountHealthToItsOwn(): void
    {
        Agent::notifyAlerts([
            ['id' => 7, 'event' => 'outbox_stale', 'account_id' => null, 'text' => 'smtp34: писем ждёт в очереди больше часа: 4'],
            ['id' => 8, 'event' => 'account_failing', 'account_id' => 3, 'text' => 'smtp34: аккаунт 3 ...'],
        ]);
        $this->assertSame([['smtp34: писем ждёт в очереди больше часа: 4', 'SMTP34_ALERT_7_']], array_map(static fn ($n) => [$n['MESSAGE'], $n['TAG']], CAdminNotify::$notes));
        $module = new smtp34_smtp();
        $module->DoInstall();
        $this->uninstall($module, true);
        $this->assertSame([], CAdminNotify::$notes, 'uninstall removes them too');
    }

    /**
     * Runs one of the module's admin scripts (or options.php) as Bitrix
     * would: the request in $_GET/$_POST/$_REQUEST, the output captured.
     */
    private function page(string $script, array $get = [], array $post = [], bool $withSessid = true): string
    {
        if ($withSessid && ($post !== [] || isset($get['action_button']) || isset($get['flush']))) {
            $post === [] ? $get['sessid'] = bitrix_sessid() : $post['sessid'] = bitrix_sessid();
        }
        [$_GET, $_POST, $_REQUEST] = [$get, $post, $post + $get];
        $_SERVER['REQUEST_METHOD'] = $post === [] ? 'GET' : 'POST';
        $_SERVER['REQUEST_URI'] = '/bitrix/admin/' . basename($script) . ($get ? '?' . http_build_query($get) : '');
        defined('B_PROLOG_INCLUDED') || define('B_PROLOG_INCLUDED', true);
        // what Bitrix's prolog leaves in the scope of the script that included it
        $APPLICATION = $GLOBALS['APPLICATION'];
        $adminPage = new stdClass();
        ob_start();
        try {
            require self::MODULE . '/' . $script;
        } finally {
            $out = (string) ob_get_clean();
        }
        return $out;
    }

    /** @return list<string> the ids of the rows a CAdminList printed */
    private static function rows(string $html): array
    {
        preg_match_all('/<tr class="adm-list-table-row" data-id="([^"]*)">/', $html, $m);
        return $m[1];
    }

    /** @dataProvider pages */
    public function testEveryPageNeedsTheModulesRights(string $script): void
    {
        $this->app->right = 'D';
        $out = $this->page($script);
        $this->assertSame(['Доступ запрещён.'], $this->app->authForms);
        $this->assertStringNotContainsString('adm-list-table', $out);

        $this->app->right = 'R';
        $this->app->authForms = [];
        $out = $this->page($script);
        $this->assertSame([], $this->app->authForms);
        $this->assertNotSame('', $out);
    }

    /**
     * @dataProvider pages
     * A PHP that has not loaded the extension (php-fpm forgotten by phpenmod):
     * each page says so inside the admin, to those with the module's rights.
     */
    public function testWithoutTheExtensionEveryPageSaysWhyInsideTheAdmin(string $script): void
    {
        $code = sprintf(<<<'PHP'
            require %s;
            require %s;
            require %s;
            $_SERVER['DOCUMENT_ROOT'] = %s;
            $_SERVER['REQUEST_METHOD'] = 'GET';
            define('B_PROLOG_INCLUDED', true);
            define('LANGUAGE_ID', 'en');
            $GLOBALS['APPLICATION'] = $APPLICATION = new FakeApplication(getenv('SMTP34_TEST_RIGHT'));
            $adminPage = new stdClass();
            require %s;
            echo "\n", json_encode($APPLICATION->authForms);
            PHP, var_export(__DIR__ . '/../bitrix/fakes.php', true), var_export(self::MODULE . '/include.php', true),
            var_export(self::MODULE . '/install/index.php', true), var_export($this->root, true), var_export(self::MODULE . '/' . $script, true));
        foreach (['R' => true, 'D' => false] as $right => $mayRead) {
            $result = ChildPhp::run($code, [], ['SMTP34_TEST_RIGHT' => $right], false);
            $out = $result['stdout'];
            $this->assertSame(0, $result['code'], $out . $result['stderr']);
            $this->assertSame($mayRead, str_contains($out, 'The smtp34 extension is not loaded in this PHP (cli)'), $out);
            $this->assertStringEndsWith($mayRead ? '[]' : '["Access denied."]', $out);
            // the options page is shown inside Bitrix's settings.php, which prints the prolog itself
            $this->assertSame($mayRead && $script !== 'options.php', str_contains($out, '<!-- prolog: '), $out);
        }
    }

    public static function pages(): array
    {
        return [['admin/smtp34_dashboard.php'], ['admin/smtp34_accounts.php'], ['admin/smtp34_account_edit.php'], ['options.php'],
            ['admin/smtp34_logs.php'], ['admin/smtp34_journal.php'], ['admin/smtp34_outbox.php'], ['admin/smtp34_dkim.php']];
    }

    public function testTheJournalListResendsKeptLettersFromTheRowMenuAndAsAGroup(): void
    {
        $server = $this->authServer();
        $this->account($server, [], false);
        smtp34_settings(['enabled' => true, 'keep_letters' => 'all', 'delivery' => 'wait']);
        custom_mail('kept@mail.ru', 'Сохранённое', "b\n", 'From: shop@site.ru');
        $row = smtp34_journal(1)[0];
        $this->assertTrue($row['kept']);
        $out = $this->page('admin/smtp34_journal.php');
        $this->assertStringContainsString('Отправить заново', $out, 'the row menu and the group action');

        $out = $this->page('admin/smtp34_journal.php', ['ID' => $row['id'], 'action_button' => 'resend']);
        $this->assertStringContainsString('Поставлено в очередь на повторную отправку: 1.', $out);
        $this->assertSame($row['id'], smtp34_journal(1)[0]['resent_from']);
        $this->page('admin/smtp34_journal.php', [], ['action' => 'resend', 'ID' => [$row['id'], $row['id'] + 1000]]);
        $this->assertSame([$row['id'], $row['id']], array_column(smtp34_journal(2), 'resent_from'));
        smtp34_outbox_flush(10, true);
        $this->assertCount(3, $server->received());

        $this->app->right = 'R';
        $newest = smtp34_journal(1)[0]['id'];
        $this->page('admin/smtp34_journal.php', [], ['action' => 'resend', 'ID' => [$row['id']]]);
        $this->assertSame($newest, smtp34_journal(1)[0]['id'], 'R resends nothing');
    }

    public function testTheDkimPageAddsKeysShowsTheirRecordsAndActsOnThem(): void
    {
        foreach (smtp34_dkim_list() as $key) {
            smtp34_dkim_delete($key['id']);
        }
        $server = $this->authServer();
        $this->account($server, ['email' => 'shop@site.ru']);
        smtp34_settings(['enabled' => true]);
        custom_mail('buyer@mail.ru', 'Заказ', "b\n", 'From: shop@site.ru');

        $out = $this->page('admin/smtp34_dkim.php');
        $this->assertStringContainsString('<!-- prolog: Подпись DKIM -->', $out);
        $this->assertMatchesRegularExpression('/письма уходили с доменов, которые не подписывает ни один ваш ключ: site\.ru \(\d+\)/', $out);
        $this->assertSame([], self::rows($out));

        $this->page('admin/smtp34_dkim.php', [], ['add' => 'Y', 'domain' => 'site.ru', 'selector' => 'mail', 'source' => 'ed25519']);
        [$key] = smtp34_dkim_list();
        $this->assertSame(['/bitrix/admin/smtp34_dkim.php?lang=ru&added=' . $key['id']], $GLOBALS['SMTP34_FAKE_REDIRECTS']);
        $this->assertSame(['site.ru', 'mail', 'ed25519-sha256', true], [$key['domain'], $key['selector'], $key['algorithm'], $key['active']]);

        $out = $this->page('admin/smtp34_dkim.php', ['added' => (string) $key['id']]);
        $this->assertSame([(string) $key['id']], self::rows($out));
        $this->assertStringContainsString('mail._domainkey.site.ru', $out);
        $this->assertStringContainsString(htmlspecialchars($key['dns_value']), $out);
        $this->assertStringContainsString('не проверено', $out);
        $this->assertDoesNotMatchRegularExpression('/[ ,]site\.ru \(\d+\)/', $out, 'the domain is signed now');
        $this->assertStringContainsString('Ключ сохранён', $out);

        // a refused add keeps what was typed and says why; the PEM box is never filled again
        $out = $this->page('admin/smtp34_dkim.php', [], ['add' => 'Y', 'domain' => 'shop.ru', 'selector' => 'bad selector', 'source' => 'import', 'private_key' => 'not a key']);
        $this->assertStringContainsString('selector', $out);
        $this->assertStringContainsString('value="shop.ru"', $out);
        $this->assertStringNotContainsString('not a key', $out);
        $this->assertCount(1, smtp34_dkim_list());

        $this->page('admin/smtp34_dkim.php', ['ID' => $key['id'], 'action_button' => 'deactivate']);
        $this->assertFalse(smtp34_dkim_list()[0]['active']);
        $this->page('admin/smtp34_dkim.php', [], ['action' => 'delete', 'ID' => [$key['id']]]);
        $this->assertSame([], smtp34_dkim_list());

        // R sees the list, adds nothing
        $this->app->right = 'R';
        $out = $this->page('admin/smtp34_dkim.php', [], ['add' => 'Y', 'domain' => 'site.ru', 'selector' => 'r', 'source' => 'ed25519']);
        $this->assertSame([], smtp34_dkim_list());
        $this->assertStringNotContainsString('name="add"', $out);
    }

    public function testAPresetFillsTheFormAndSavesNothing(): void
    {
        $out = $this->page('admin/smtp34_account_edit.php', [], ['fill' => 'Y', 'preset' => 'microsoft365', 'email' => 'm@site.ru', 'name' => 'Склад', 'password' => 'typed']);
        $this->assertStringContainsString('Microsoft 365 отключает вход по паролю', $out);
        $this->assertMatchesRegularExpression('/name="host"[^>]*value="smtp\.office365\.com"|value="smtp\.office365\.com"[^>]*name="host"/', $out);
        $this->assertStringContainsString('m@site.ru', $out, 'what was typed stays');
        $this->assertStringNotContainsString('typed', $out, 'never the password');
        $this->assertSame([], smtp34_account_list());
        $this->assertSame([], $GLOBALS['SMTP34_FAKE_REDIRECTS']);
    }

    public function testAnOAuthAccountIsConnectedFromItsFormThroughTheModulesReturnPage(): void
    {
        $_SERVER['HTTP_HOST'] = 'shop.example.ru';
        $_SERVER['HTTPS'] = 'on';
        $id = smtp34_account_save(['email' => 'm@site.ru', 'host' => 'smtp.office365.com', 'port' => 587, 'security' => 'starttls',
            'auth' => 'xoauth2', 'login' => 'm@site.ru', 'oauth_provider' => 'microsoft', 'oauth_client_id' => 'app-1', 'oauth_client_secret' => 's3cr3t'], false);

        $form = $this->page('admin/smtp34_account_edit.php', ['id' => $id]);
        $this->assertStringContainsString('Ещё не подключено', $form);
        $this->assertStringContainsString('https://shop.example.ru/bitrix/admin/smtp34_oauth.php', $form, 'the redirect URI to register');
        $this->assertMatchesRegularExpression('/id="connect"[^>]*href="[^"]*smtp34_oauth\.php\?lang=ru&amp;id=' . $id . '&amp;sessid=/', $form);
        $this->assertStringNotContainsString('s3cr3t', $form);

        // without the session's sessid nobody is sent anywhere
        $this->page('admin/smtp34_oauth.php', ['id' => $id]);
        $this->assertSame([], $GLOBALS['SMTP34_FAKE_REDIRECTS']);

        $this->page('admin/smtp34_oauth.php', ['id' => $id, 'sessid' => bitrix_sessid()]);
        $this->assertCount(1, $GLOBALS['SMTP34_FAKE_REDIRECTS']);
        $to = $GLOBALS['SMTP34_FAKE_REDIRECTS'][0];
        $this->assertStringStartsWith('https://login.microsoftonline.com/organizations/oauth2/v2.0/authorize?response_type=code&client_id=app-1&', $to);
        $this->assertStringContainsString('redirect_uri=' . rawurlencode('https://shop.example.ru/bitrix/admin/smtp34_oauth.php'), $to);

        // the way back with a state nobody issued: an error on the page, nothing connected
        $GLOBALS['SMTP34_FAKE_REDIRECTS'] = [];
        $out = $this->page('admin/smtp34_oauth.php', ['state' => 'forged', 'code' => 'x']);
        $this->assertStringContainsString('unknown or expired state', $out);
        $this->assertSame([], $GLOBALS['SMTP34_FAKE_REDIRECTS']);
        $this->assertFalse(smtp34_account_get($id)['oauth_connected']);
        // the provider said no
        $out = $this->page('admin/smtp34_oauth.php', ['error' => 'access_denied', 'error_description' => 'The user declined']);
        $this->assertStringContainsString('Провайдер не разрешил доступ: access_denied The user declined', $out);
        unset($_SERVER['HTTP_HOST'], $_SERVER['HTTPS']);
    }

    public function testTheAccountListFiltersSortsPagesAndActsOnGroups(): void
    {
        $server = $this->authServer();
        $ids = [];
        for ($i = 1; $i <= 23; $i++) {
            $ids[] = $this->account($server, ['email' => sprintf('shop%02d@site.ru', $i), 'name' => "Магазин $i"], false);
        }
        $out = $this->page('admin/smtp34_accounts.php');
        $this->assertStringContainsString('<!-- prolog: Список SMTP-аккаунтов -->', $out);
        $this->assertSame(array_map('strval', array_slice(array_reverse($ids), 0, 20)), self::rows($out), 'newest first, 20 a page');
        $this->assertStringContainsString('data-page="1" data-pages="2"', $out);
        $this->assertSame(array_map('strval', array_slice($ids, 0, 3)), array_reverse(self::rows($this->page('admin/smtp34_accounts.php', ['PAGEN_1' => '2']))));
        $this->assertSame(array_map('strval', array_slice($ids, 0, 20)), self::rows($this->page('admin/smtp34_accounts.php', ['by' => 'email', 'order' => 'asc'])));
        $this->assertSame([(string) $ids[6]], self::rows($this->page('admin/smtp34_accounts.php', ['set_filter' => 'Y', 'find_text' => 'SHOP07'])), 'the filter, any case');
        $this->assertStringContainsString('data-sort="email"', $out);
        $this->assertMatchesRegularExpression('/<td class="adm-list-table-cell" data-id="ID" data-sort="id">ID<\/td>/', $out);
        $this->assertStringContainsString('<select name="action" class="group-actions"><option value="activate">Активировать</option><option value="deactivate">Деактивировать</option><option value="delete">Удалить</option></select>', $out);
        $this->assertStringContainsString('href="/bitrix/admin/smtp34_account_edit.php?lang=ru">Добавить аккаунт</a>', $out);
        // a row's context menu: edit (default), deactivate, delete after a confirm
        $this->assertMatchesRegularExpression('#<tr class="adm-list-table-row" data-id="' . $ids[22] . '">.*?data-icon="edit" data-action="BX.adminPanel.Redirect\(\[\], \'/bitrix/admin/smtp34_account_edit.php\?lang=ru&amp;id=' . $ids[22] . '\'.*?data-icon="deactivate".*?action_button=deactivate.*?data-icon="delete" data-action="if\(confirm\(#s', $out);

        // a group action needs the sessid, then acts on the ids given
        $this->page('admin/smtp34_accounts.php', [], ['action' => 'deactivate', 'ID' => [$ids[0], $ids[1]]], false);
        $this->assertTrue(smtp34_account_get($ids[0])['active'], 'no sessid: nothing changed');
        $this->page('admin/smtp34_accounts.php', [], ['action' => 'deactivate', 'ID' => [$ids[0], $ids[1]]]);
        $this->assertSame([false, false, true], [smtp34_account_get($ids[0])['active'], smtp34_account_get($ids[1])['active'], smtp34_account_get($ids[2])['active']]);
        $this->assertSame([(string) $ids[1], (string) $ids[0]], self::rows($this->page('admin/smtp34_accounts.php', ['set_filter' => 'Y', 'find_active' => 'N'])));
        // a row's own menu item: GET with action_button and the sessid
        $this->page('admin/smtp34_accounts.php', ['ID' => $ids[2], 'action_button' => 'delete']);
        $this->assertNull(smtp34_account_get($ids[2]));
        // "for all": every account the filter shows
        $this->page('admin/smtp34_accounts.php', ['set_filter' => 'Y', 'find_active' => 'N'], ['action' => 'activate', 'action_target' => 'selected']);
        $this->assertTrue(smtp34_account_get($ids[0])['active'] && smtp34_account_get($ids[1])['active']);

        $this->app->right = 'R';
        $readOnly = $this->page('admin/smtp34_accounts.php');
        $this->assertStringNotContainsString('group-actions', $readOnly);
        $this->assertStringNotContainsString('data-icon="delete"', $readOnly);
        $this->page('admin/smtp34_accounts.php', [], ['action' => 'delete', 'ID' => [$ids[0]]]);
        $this->assertNotNull(smtp34_account_get($ids[0]), 'R cannot change anything');
    }

    public function testTheAccountFormHasThreeTabsSavesAfterTheCheckAndKeepsWhatWasTyped(): void
    {
        $server = $this->authServer();
        $new = $this->page('admin/smtp34_account_edit.php');
        $this->assertStringContainsString('<!-- prolog: Добавление SMTP-аккаунта -->', $new);
        preg_match_all('/data-tab="([^"]+)"/', $new, $tabs);
        $this->assertSame(['Параметры SMTP-аккаунта', 'Проверка', 'Лог'], $tabs[1]);
        $this->assertStringContainsString('<span class="adm-required-field">Адрес почтового сервера</span>', $new);
        $this->assertStringContainsString('name="save_and_add"', $new);
        $this->assertStringContainsString('<input type="hidden" name="sessid" id="sessid" value="fake-bitrix-sessid" />', $new);

        $fields = ['active' => 'Y', 'name' => 'Магазин', 'email' => 'shop@site.ru', 'host' => '127.0.0.1', 'port' => (string) $server->port, 'security' => 'none',
            'auth' => 'login', 'login' => 'shop', 'password' => 'wrong', 'mailing_first' => 'N', 'verify_tls' => 'Y', 'daily_limit' => '0', 'save' => 'Y'];
        $refused = $this->page('admin/smtp34_account_edit.php', [], $fields);
        $this->assertStringContainsString('Проверка соединения не прошла, аккаунт не сохранён.', $refused);
        $this->assertStringContainsString('535', $refused);
        $this->assertStringContainsString('value="shop@site.ru"', $refused, 'what was typed stays');
        $this->assertStringNotContainsString('wrong', $refused, 'but never the password');
        $this->assertSame([], smtp34_account_list());

        $this->page('admin/smtp34_account_edit.php', [], ['password' => 's3cret-pass', 'apply' => 'Y'] + $fields);
        [$account] = smtp34_account_list();
        $this->assertSame(['/bitrix/admin/smtp34_account_edit.php?lang=ru&id=' . $account['id'] . '&saved=1'], $GLOBALS['SMTP34_FAKE_REDIRECTS']);

        $checked = $this->page('admin/smtp34_account_edit.php', ['id' => $account['id']], ['check' => 'Y']);
        $this->assertStringContainsString('class="check-ok"', $checked);
        $this->assertMatchesRegularExpression('/<pre id="check-transcript">.*AUTH PLAIN \*{8}/s', $checked);
        $this->assertStringNotContainsString('s3cret-pass', $checked);

        smtp34_settings(['enabled' => true]);
        custom_mail('buyer@mail.ru', 'Заказ', "b\n", 'From: shop@site.ru');
        $this->assertStringContainsString('RCPT TO:&lt;buyer@mail.ru&gt;', $this->page('admin/smtp34_account_edit.php', ['id' => $account['id']]), 'the log tab');
    }

    public function testTheJournalListUsesTheSharedFilterAndBitrixPages(): void
    {
        $id = $this->account($this->authServer(['reject-rcpt' => 'nobody']), [], false);
        smtp34_settings(['enabled' => true]);
        for ($i = 1; $i <= 25; $i++) {
            custom_mail("buyer$i@mail.ru", "Заказ $i", "b\n", 'From: shop@site.ru');
        }
        custom_mail('nobody@mail.ru', 'Отказ', "b\n", 'From: shop@site.ru');
        $journal = smtp34_journal(26);

        $out = $this->page('admin/smtp34_journal.php');
        $this->assertSame(array_map('strval', array_column(array_slice($journal, 0, 20), 'id')), self::rows($out));
        // every failed letter in the journal, this test's refusal first (earlier tests may have left others)
        $failed = array_column(array_filter(smtp34_journal(1000), static fn ($r) => $r['status'] === 'failed'), 'id');
        $this->assertSame((string) $journal[0]['id'], (string) $failed[0]);
        $this->assertSame(array_map('strval', array_slice($failed, 0, 20)), self::rows($this->page('admin/smtp34_journal.php', ['set_filter' => 'Y', 'find_status' => 'failed'])));
        $this->assertSame([(string) $journal[26 - 7]['id']], self::rows($this->page('admin/smtp34_journal.php', ['set_filter' => 'Y', 'find_text' => 'buyer7@'])));
        $withoutAccount = array_column(array_filter(smtp34_journal(100000), static fn ($r) => $r['account_id'] === null), 'id');
        $this->assertSame(array_map('strval', array_slice($withoutAccount, 0, 20)), self::rows($this->page('admin/smtp34_journal.php', ['set_filter' => 'Y', 'find_account' => 'none'])), 'the whole journal, as a scan finds it');
        $this->assertCount(20, self::rows($this->page('admin/smtp34_journal.php', ['set_filter' => 'Y', 'find_account' => (string) $id, 'find_date_from' => date('Y-m-d')])));
        $this->assertCount(20, self::rows($this->page('admin/smtp34_journal.php', ['set_filter' => 'Y', 'find_status' => 'failed', 'del_filter' => 'Y'])), 'del_filter drops the filter');
        $this->assertStringContainsString('<select name="find_status" id="find_status">', $out);
        $failedRows = array_map('strval', array_slice($failed, 0, 20));
        $this->assertSame($failedRows, self::rows($this->page('admin/smtp34_journal.php', ['set_filter' => 'Y', 'find_status' => 'failed'])));
        $this->assertSame($failedRows, self::rows($this->page('admin/smtp34_journal.php')), 'the filter is kept for the next visit, as Bitrix keeps it');
        $this->assertStringContainsString('>Отправлено</span>', $out, 'statuses in words');
        $this->assertStringContainsString('<option value="failed">Не отправлено</option>', $out);
    }

    /** @dataProvider lists */
    public function testEveryDeclaredColumnOfEveryListIsFilled(string $script): void
    {
        $server = $this->authServer();
        $id = $this->account($server, [], false);
        smtp34_settings(['enabled' => true]);
        custom_mail('buyer@mail.ru', 'Заказ', "b\n", 'From: shop@site.ru');
        $server->stop();
        custom_mail('later@mail.ru', 'Ждёт', "b\n", 'From: shop@site.ru');
        $this->assertNotEmpty(smtp34_outbox_list());
        $this->assertNotEmpty(smtp34_log_list());
        smtp34_dkim_list() !== [] || smtp34_dkim_save(['domain' => 'site.ru', 'selector' => 'mail', 'generate' => 'ed25519']);

        $out = $this->page($script);
        preg_match_all('/<td class="adm-list-table-cell" data-column="([A-Z_]+)">&nbsp;<\/td>/', $out, $empty);
        $this->assertNotEmpty(self::rows($out));
        // MAILING_ID is empty for a letter that is not a mailing, as it should be
        $this->assertSame([], array_values(array_diff(array_unique($empty[1]), ['MAILING_ID'])), "empty columns in $script");
    }

    public static function lists(): array
    {
        return array_map(static fn ($page) => ["admin/smtp34_$page.php"], ['dashboard' => 'dashboard', 'accounts' => 'accounts', 'journal' => 'journal', 'logs' => 'logs', 'outbox' => 'outbox', 'dkim' => 'dkim']);
    }

    public function testNoFilterSetIsNoFilter(): void
    {
        $list = new CAdminList('tbl_any');
        $this->assertNull($list->InitFilter(['find_text']), 'as the kernel answers until a filter is set');
        $id = $this->account($this->authServer(), [], false);
        $this->assertSame([(string) $id], self::rows($this->page('admin/smtp34_accounts.php')), 'the list opens with no filter');
    }

    public function testTheOutboxListSendsNowAndDeletes(): void
    {
        $server = $this->authServer();
        $this->account($server, [], false);
        $server->stop();
        smtp34_settings(['enabled' => true]);
        custom_mail('wait1@mail.ru', 'Первое', "b\n", 'From: shop@site.ru');
        custom_mail('wait2@mail.ru', 'Второе', "b\n", 'From: shop@site.ru');
        custom_mail('wait3@mail.ru', 'Третье', "b\n", 'From: shop@site.ru');
        [$first, $second, $third] = smtp34_outbox_list();

        $out = $this->page('admin/smtp34_outbox.php');
        $this->assertStringContainsString('<!-- prolog: Очередь писем -->', $out);
        $this->assertSame(array_map('strval', [$first['id'], $second['id'], $third['id']]), self::rows($out));
        $this->assertStringContainsString('cannot connect to 127.0.0.1', $out);
        $this->assertStringContainsString('flush=Y&amp;sessid=fake-bitrix-sessid', $out);

        $this->page('admin/smtp34_outbox.php', [], ['action' => 'delete', 'ID' => [$second['id']]]);
        $this->assertSame([$first['id'], $third['id']], array_column(smtp34_outbox_list(), 'id'));
        $this->page('admin/smtp34_outbox.php', ['ID' => $third['id'], 'action_button' => 'delete']);
        $this->assertSame([$first['id']], array_column(smtp34_outbox_list(), 'id'));

        $this->page('admin/smtp34_outbox.php', ['flush' => 'Y']);
        $this->assertSame(['/bitrix/admin/smtp34_outbox.php?lang=ru&sent=0&failed=0&left=1'], $GLOBALS['SMTP34_FAKE_REDIRECTS']);
        $this->assertSame(2, smtp34_outbox_list()[0]['attempts']);
        $this->assertStringContainsString('Отправлено: 0, не доставлено окончательно: 0, ещё в очереди: 1.', $this->page('admin/smtp34_outbox.php', ['sent' => '0', 'failed' => '0', 'left' => '1']));
        $this->assertStringContainsString('ошибки подряд: 2', $this->page('admin/smtp34_accounts.php'), 'the accounts list shows its health');
    }

    public function testTheLogListViewsAndDeletes(): void
    {
        $id = $this->account($this->authServer(), [], false);
        smtp34_settings(['enabled' => true]);
        custom_mail('buyer@mail.ru', 'Заказ', "b\n", 'From: shop@site.ru');
        $out = $this->page('admin/smtp34_logs.php');
        $this->assertContains("send_$id.log", self::rows($out));
        $this->assertStringContainsString('RCPT TO:&lt;buyer@mail.ru&gt;', $this->page('admin/smtp34_logs.php', ['view' => "send_$id.log"]));
        $this->assertStringContainsString('adm-info-message', $this->page('admin/smtp34_logs.php', ['view' => '../smtp34.db']));
        $this->page('admin/smtp34_logs.php', [], ['action' => 'delete', 'ID' => ["send_$id.log"]]);
        $this->assertNotContains("send_$id.log", array_column(smtp34_log_list(), 'name'));
    }

    public function testTheOptionsPageSavesSettingsAndGroupRightsAndWarnsOfBypasses(): void
    {
        $out = $this->page('options.php');
        preg_match_all('/data-tab="([^"]+)"/', $out, $tabs);
        $this->assertSame(['Настройки', 'Доступ'], $tabs[1]);
        $this->assertStringContainsString('<tr id="group-rights" data-module="smtp34.smtp">', $out, "Bitrix's own access tab");
        $this->assertStringContainsString('<option value="W">[W] изменение аккаунтов, настроек и очереди</option>', $out);
        $this->assertStringNotContainsString('adm-info-message', $out, 'nothing to warn of');

        $this->page('options.php', [], ['log_level' => '3', 'enabled' => 'Y', 'Apply' => 'Y', 'GROUPS' => ['5', '6'], 'RIGHTS' => ['R', 'W']]);
        $this->assertSame([3, true], [smtp34_settings()['log_level'], smtp34_settings()['enabled']]);
        $this->assertSame([['smtp34.smtp', ['5' => 'R', '6' => 'W']]], $GLOBALS['SMTP34_FAKE_RIGHTS_SAVED'], 'the groups\' rights, saved by Bitrix\'s own tab (Apply too)');
        $this->assertSame(['/bitrix/admin/settings.php?mid=smtp34.smtp&lang=ru&saved=1'], $GLOBALS['SMTP34_FAKE_REDIRECTS']);

        $refused = $this->page('options.php', [], ['timeout' => 'soon', 'Update' => 'Y', 'GROUPS' => ['5'], 'RIGHTS' => ['D']]);
        $this->assertStringContainsString('timeout', $refused);
        $this->assertCount(1, $GLOBALS['SMTP34_FAKE_RIGHTS_SAVED'], 'refused settings: rights not saved either');

        Configuration::$values['smtp'] = ['enabled' => true, 'debug' => false];
        mkdir("$this->root/local/php_interface", 0777, true);
        file_put_contents("$this->root/local/php_interface/init.php", "<?php\nif (!function_exists('custom_mail')) {\n    function custom_mail(\$to, \$subject, \$message) { return mail(\$to, \$subject, \$message); }\n}\n");
        $warned = $this->page('options.php');
        $this->assertStringContainsString('включена собственная SMTP-отправка Битрикса', $warned);
        $this->assertStringContainsString("определена ещё и в $this->root/local/php_interface/init.php", $warned);
        $this->assertStringContainsString('включена собственная SMTP-отправка Битрикса', $this->page('admin/smtp34_dashboard.php'), 'the dashboard says it too');
    }

    public function testTheDashboardShowsTheChartAccountsAndOutbox(): void
    {
        $this->account($this->authServer(), [], false);
        smtp34_settings(['enabled' => true]);
        custom_mail('buyer@mail.ru', 'Заказ', "b\n", 'From: shop@site.ru');
        $out = $this->page('admin/smtp34_dashboard.php');
        $this->assertStringContainsString('<!-- prolog: Сводка по почте -->', $out);
        $this->assertStringContainsString('<svg xmlns="http://www.w3.org/2000/svg" class="smtp34-chart"', $out);
        $this->assertStringContainsString('href="/bitrix/admin/smtp34_outbox.php?lang=ru"', $out);
        $this->assertStringContainsString('<h2>Оповещения (новые сверху; куда отправлены)</h2>', $out);
        $newest = \Smtp34\Admin\Pages::alerts(1)[0] ?? null;
        if ($newest === null) {
            $this->assertStringContainsString('Оповещений ещё не было.', $out);
        } else {
            // earlier tests raised alerts: the newest is the list's first row
            $this->assertMatchesRegularExpression('#<table class="adm-list-table" id="tbl_smtp34_alerts">.*?<tr class="adm-list-table-row" data-id="1">.*?data-event="'
                . preg_quote($newest['event'], '#') . '"#s', $out);
        }
    }

    public function testStringsComeThroughLocFromLangFilesOfTheSamePath(): void
    {
        $this->page('admin/smtp34_account_edit.php');
        $module = realpath(self::MODULE);
        foreach (['lib/Bitrix/Ui/AccountForm.php', 'lib/Admin/I18n.php'] as $file) {
            $this->assertContains("$module/lang/ru/$file", array_map('realpath', Loc::$loaded));
            $this->assertFileExists("$module/lang/en/$file");
        }
        $codes = static function (string $lang) use ($module): array {
            $all = [];
            foreach (new RecursiveIteratorIterator(new RecursiveDirectoryIterator("$module/lang/$lang", FilesystemIterator::SKIP_DOTS)) as $file) {
                $MESS = [];
                include $file->getPathname();
                $all += $MESS;
            }
            return $all;
        };
        $ru = $codes('ru');
        $en = $codes('en');
        $this->assertSame([], array_diff(array_keys($ru), array_keys($en)), 'every Russian string has an English one');
        $this->assertSame([], array_diff(array_keys($en), array_keys($ru)));
        $this->assertSame([], array_filter(array_keys($ru), static fn ($code) => !str_starts_with($code, 'SMTP34_')), 'codes carry the module prefix');
    }

    public function testTheModuleGrantsItsRightsToGroupsAndRunsFromLocalModules(): void
    {
        $module = new smtp34_smtp();
        $this->assertSame('Y', $module->MODULE_GROUP_RIGHTS);
        $this->assertSame(['D', 'R', 'W'], $module->GetModuleRightList()['reference_id']);

        // a module in /local/modules: the stubs in /bitrix/admin find it there
        mkdir("$this->root/local/modules", 0777, true);
        exec('cp -r ' . escapeshellarg(realpath(self::MODULE)) . ' ' . escapeshellarg("$this->root/local/modules/smtp34.smtp"));
        $this->assertTrue($module->DoInstall());
        $this->account($this->authServer(), [], false);
        [$_GET, $_POST, $_REQUEST] = [[], [], []];
        $_SERVER['REQUEST_METHOD'] = 'GET';
        [$APPLICATION, $adminPage] = [$GLOBALS['APPLICATION'], new stdClass()];
        ob_start();
        require "$this->root/bitrix/admin/smtp34_accounts.php";
        $out = (string) ob_get_clean();
        $this->assertCount(1, self::rows($out));
        $this->assertContains(realpath("$this->root/local/modules/smtp34.smtp/admin/smtp34_accounts.php"), get_included_files(), "the stub ran the page of the module in /local/modules");
    }

    /** @dataProvider locConversions */
    public function testAWindows1251SiteGetsItsOwnCharsetBothWays(bool $locConverts): void
    {
        $server = $this->authServer();
        // a site in windows-1251: a PHP process of its own (LANG_CHARSET is a constant)
        $code = sprintf(<<<'PHP'
            define('LANG_CHARSET', 'windows-1251');
            require %s;
            require %s;
            require %s;
            Bitrix\Main\Localization\Loc::$convertTo = %s;
            $_SERVER['DOCUMENT_ROOT'] = %s;
            $GLOBALS['APPLICATION'] = new FakeApplication('W');
            $adminPage = new stdClass(); // what Bitrix's prolog leaves behind
            smtp34_account_save(['name' => 'Магазин', 'email' => 'shop@site.ru', 'host' => '127.0.0.1', 'port' => %d, 'auth' => 'none'], false);
            smtp34_account_save(['name' => 'Склад', 'email' => 'stock@site.ru', 'host' => '127.0.0.1', 'port' => %d, 'auth' => 'none'], false);
            $_REQUEST = $_GET = ['set_filter' => 'Y', 'find_text' => mb_convert_encoding('магаз', 'Windows-1251', 'UTF-8')];
            $_SERVER['REQUEST_METHOD'] = 'GET';
            require %s;
            PHP,
            var_export(__DIR__ . '/../bitrix/fakes.php', true), var_export(self::MODULE . '/lib/autoload.php', true), var_export(self::MODULE . '/install/index.php', true),
            var_export($locConverts ? 'windows-1251' : null, true), var_export($this->root, true), $server->port, $server->port,
            var_export(self::MODULE . '/admin/smtp34_accounts.php', true));
        $result = ChildPhp::run($code, ChildPhp::freshIni());
        $this->assertSame(0, $result['code'], $result['stderr']);
        $out = $result['stdout'];
        $this->assertFalse(mb_check_encoding($out, 'UTF-8'), 'the page is not UTF-8');
        $page = mb_convert_encoding($out, 'UTF-8', 'Windows-1251');
        $this->assertStringContainsString('<!-- prolog: Список SMTP-аккаунтов -->', $page, 'labels converted once');
        $this->assertStringContainsString('data-column="NAME">Магазин</td>', $page, "the extension's data converted");
        $this->assertStringNotContainsString('stock@site.ru', $page, 'the filter text was read in the site charset');
        $this->assertStringContainsString('<option value="delete">Удалить</option>', $page);
    }

    public static function locConversions(): array
    {
        return ['Loc hands lang files over as they are' => [false], 'Loc converts them to the site charset' => [true]];
    }
}

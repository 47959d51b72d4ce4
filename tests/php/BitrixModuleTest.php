<?php
declare(strict_types=1);

use Bitrix\Main\Event;
use Bitrix\Main\EventManager;
use Bitrix\Main\EventResult;
use Bitrix\Main\ModuleManager;
use Smtp34\Bitrix\AdminPage;
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
        $_SERVER['DOCUMENT_ROOT'] = $this->root;
        $GLOBALS['APPLICATION'] = $this->app = new FakeApplication('W');
        EventManager::getInstance()->handlers = [];
        ModuleManager::$installed = [];
        CAgent::$agents = [];
        CAdminNotify::$notes = [];
        $_REQUEST = [];
    }

    private const HANDLER = ['sender', 'OnPostingSendRecipientEmail', 'smtp34.smtp', EventHandler::class, 'onPostingSendRecipientEmail'];

    public function testInstallRegistersTheModuleTheHandlerAndTheAdminPages(): void
    {
        $this->assertTrue((new smtp34_smtp())->DoInstall());

        $this->assertTrue(ModuleManager::isModuleInstalled('smtp34.smtp'));
        $this->assertSame([self::HANDLER], EventManager::getInstance()->handlers);
        foreach (['accounts', 'account_edit', 'logs', 'journal', 'outbox'] as $page) {
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

        $this->assertTrue($module->DoUninstall());

        $this->assertFalse(ModuleManager::isModuleInstalled('smtp34.smtp'));
        $this->assertSame([], EventManager::getInstance()->handlers);
        $this->assertSame([], CAgent::$agents);
        $this->assertSame(['other_module.php'], array_map('basename', glob("$this->root/bitrix/admin/*")));
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

    /** @dataProvider pages */
    public function testEveryPageNeedsTheModulesRights(string $page): void
    {
        $this->app->right = 'D';
        $this->assertNull(AdminPage::handle($page, $this->app, 'GET', [], []));
        $this->assertSame(['Доступ запрещён.'], $this->app->authForms);

        $this->app->right = 'R';
        $response = AdminPage::handle($page, $this->app, 'GET', [], []);
        $this->assertNotNull($response);
        $this->assertSame(200, $response->status);
    }

    public static function pages(): array
    {
        return [['accounts'], ['account_edit'], ['settings'], ['logs'], ['journal'], ['outbox']];
    }

    public function testReadRightSeesLogsAndTheJournalButCannotChangeAnything(): void
    {
        $server = $this->authServer();
        $id = $this->account($server, [], false);
        custom_mail('user@mail.ru', 'Тема для журнала', "b\n", 'From: shop@site.ru');
        $this->app->right = 'R';

        $this->assertStringContainsString('Тема для журнала', AdminPage::handle('journal', $this->app, 'GET', [], [])->body);
        $this->assertStringContainsString("send_$id.log", AdminPage::handle('logs', $this->app, 'GET', [], [])->body);

        $_REQUEST['sessid'] = bitrix_sessid();
        $this->assertNull(AdminPage::handle('accounts', $this->app, 'POST', [], ['action' => 'delete', 'id' => $id, 'sessid' => bitrix_sessid()]));
        $this->assertNotNull(smtp34_account_get($id));
    }

    public function testAPostWithoutBitrixSessidChangesNothing(): void
    {
        $id = $this->account($this->authServer(), [], false);
        $response = AdminPage::handle('accounts', $this->app, 'POST', [], ['action' => 'delete', 'id' => $id]);
        $this->assertSame(403, $response->status);
        $this->assertNotNull(smtp34_account_get($id));
    }

    public function testWriteRightWithSessidChangesThingsAndUsesBitrixUrls(): void
    {
        $id = $this->account($this->authServer(), [], false);
        $_REQUEST['sessid'] = bitrix_sessid();
        $response = AdminPage::handle('accounts', $this->app, 'POST', [], ['action' => 'deactivate', 'ids' => [$id], 'sessid' => bitrix_sessid()]);
        $this->assertSame('/bitrix/admin/smtp34_accounts.php?lang=ru', $response->redirect);
        $this->assertFalse(smtp34_account_get($id)['active']);

        $list = AdminPage::handle('accounts', $this->app, 'GET', [], []);
        $this->assertStringContainsString('/bitrix/admin/smtp34_account_edit.php?lang=ru&amp;id=' . $id, $list->body);
        $this->assertStringContainsString('name="sessid" value="fake-bitrix-sessid"', $list->body);
    }

    public function testTheMenuIsUnderServicesForUsersWithRights(): void
    {
        $menu = (static fn () => include self::MODULE . '/admin/menu.php')();
        $this->assertSame('global_menu_services', $menu['parent_menu']);
        $this->assertSame('Отправка почты через SMTP', $menu['text']);
        $this->assertSame(['Настройки', 'SMTP-аккаунты', 'Логи отправки писем', 'Журнал отправки', 'Очередь писем'], array_column($menu['items'], 'text'));
        $this->assertSame('/bitrix/admin/settings.php?mid=smtp34.smtp&lang=ru', $menu['items'][0]['url']);

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
        $module->DoUninstall();
        $this->assertSame([], CAdminNotify::$notes, 'uninstall removes its notifications');
    }

    public function testTheOutboxPageListsSendsNowAndDeletes(): void
    {
        $server = $this->authServer();
        $id = $this->account($server, [], false);
        $server->stop();
        custom_mail('wait1@mail.ru', 'Первое', "b\n", 'From: shop@site.ru');
        custom_mail('wait2@mail.ru', 'Второе', "b\n", 'From: shop@site.ru');
        [$first, $second] = smtp34_outbox_list();

        $page = AdminPage::handle('outbox', $this->app, 'GET', [], []);
        $this->assertSame('Очередь писем', $page->title);
        $this->assertStringContainsString('wait1@mail.ru', $page->body);
        $this->assertStringContainsString('cannot connect to 127.0.0.1', $page->body);
        $this->assertStringContainsString('value="delete:' . $second['id'] . '"', $page->body);

        $_REQUEST['sessid'] = bitrix_sessid();
        $response = AdminPage::handle('outbox', $this->app, 'POST', [], ['row' => 'delete:' . $second['id'], 'sessid' => bitrix_sessid()]);
        $this->assertSame('/bitrix/admin/smtp34_outbox.php?lang=ru', $response->redirect);
        $this->assertSame([$first['id']], array_column(smtp34_outbox_list(), 'id'));

        $response = AdminPage::handle('outbox', $this->app, 'POST', [], ['action' => 'flush', 'sessid' => bitrix_sessid()]);
        $this->assertSame('/bitrix/admin/smtp34_outbox.php?lang=ru&sent=0&failed=0&left=1', $response->redirect);
        $this->assertSame(2, smtp34_outbox_list()[0]['attempts']);
        $this->assertStringContainsString('Отправлено: 0, не доставлено окончательно: 0, ещё в очереди: 1.',
            AdminPage::handle('outbox', $this->app, 'GET', ['sent' => '0', 'failed' => '0', 'left' => '1'], [])->body);

        $accounts = AdminPage::handle('accounts', $this->app, 'GET', [], [])->body;
        $this->assertStringContainsString('ошибки подряд: 2', $accounts, 'the accounts list shows its health');
    }
}

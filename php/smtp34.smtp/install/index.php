<?php
// Installer of the smtp34.smtp module (Marketplace → Installed solutions).
use Bitrix\Main\EventManager;
use Bitrix\Main\ModuleManager;
use Smtp34\Admin\I18n;
use Smtp34\Bitrix\Agent;
use Smtp34\Bitrix\EventHandler;
use Smtp34\Bitrix\Requirements;

require_once __DIR__ . '/../lib/autoload.php';

class smtp34_smtp extends CModule
{
    public $MODULE_ID = 'smtp34.smtp';
    public $MODULE_VERSION;
    public $MODULE_VERSION_DATE;
    public $MODULE_NAME;
    public $MODULE_DESCRIPTION;
    public $PARTNER_NAME = 'smtp34';
    public $PARTNER_URI = '';
    /** The module's own rights (D, R, W) can be granted to user groups on its options page. */
    public $MODULE_GROUP_RIGHTS = 'Y';

    public function __construct()
    {
        $arModuleVersion = [];
        include __DIR__ . '/version.php';
        $this->MODULE_VERSION = $arModuleVersion['VERSION'];
        $this->MODULE_VERSION_DATE = $arModuleVersion['VERSION_DATE'];
        $t = self::i18n();
        $this->MODULE_NAME = $t->get('MODULE_NAME');
        $this->MODULE_DESCRIPTION = $t->get('MODULE_DESCRIPTION');
    }

    private static function i18n(): I18n
    {
        return new I18n(defined('LANGUAGE_ID') && LANGUAGE_ID === 'en' ? 'en' : 'ru');
    }

    /** The levels the options page's access tab offers: D none, R see pages and logs, W change. */
    public function GetModuleRightList()
    {
        $t = self::i18n();
        return [
            'reference_id' => ['D', 'R', 'W'],
            'reference' => ['[D] ' . $t->get('RIGHT_D'), '[R] ' . $t->get('RIGHT_R'), '[W] ' . $t->get('RIGHT_W')],
        ];
    }

    public function DoInstall()
    {
        global $APPLICATION;
        $problem = Requirements::problem(self::i18n());
        if ($problem !== null) {
            $APPLICATION->ThrowException($problem);
            return false;
        }
        ModuleManager::registerModule($this->MODULE_ID);
        EventManager::getInstance()->registerEventHandler(
            'sender', 'OnPostingSendRecipientEmail', $this->MODULE_ID, EventHandler::class, 'onPostingSendRecipientEmail'
        );
        // every minute: the outbox is flushed and the admin told of failing accounts
        CAgent::AddAgent(Agent::CALL, $this->MODULE_ID, 'N', Agent::INTERVAL);
        CopyDirFiles(__DIR__ . '/admin', $_SERVER['DOCUMENT_ROOT'] . '/bitrix/admin', true, true);
        return true;
    }

    /**
     * Bitrix's two uninstall steps: the first asks whether to keep the data
     * (kept unless the admin unticks it, as Bitrix's own modules do), the
     * second removes the module and, if asked, the accounts with their
     * passwords, the waiting letters, the logs and the settings.
     */
    public function DoUninstall()
    {
        global $APPLICATION, $step;
        $t = self::i18n();
        if ((int) $step < 2) {
            $APPLICATION->IncludeAdminFile($t->get('UNINSTALL_TITLE'), __DIR__ . '/unstep1.php');
            return false;
        }
        EventManager::getInstance()->unRegisterEventHandler(
            'sender', 'OnPostingSendRecipientEmail', $this->MODULE_ID, EventHandler::class, 'onPostingSendRecipientEmail'
        );
        CAgent::RemoveModuleAgents($this->MODULE_ID);
        CAdminNotify::DeleteByModule($this->MODULE_ID);
        DeleteDirFiles(__DIR__ . '/admin', $_SERVER['DOCUMENT_ROOT'] . '/bitrix/admin');
        ModuleManager::unRegisterModule($this->MODULE_ID);
        if (($_REQUEST['savedata'] ?? '') !== 'Y' && extension_loaded('smtp34')) {
            \Smtp34\Admin\Actions::eraseData();
        }
        return true;
    }
}

<?php
declare(strict_types=1);

namespace Smtp34\Bitrix\Ui;

use Bitrix\Main\Localization\Loc;
use Smtp34\Admin\Actions;
use Smtp34\Admin\Html;
use Smtp34\Bitrix\AdminPage;
use Smtp34\Bitrix\SiteWarnings;

Loc::loadMessages(__FILE__);

/**
 * The module's options page (Settings → Module settings): the settings of
 * SPEC §5 in one tab, Bitrix's standard access tab in the other (R and W
 * granted to user groups), and the warnings of SiteWarnings above them.
 * Bitrix shows it inside its own admin page, prolog and epilog included.
 */
final class Options
{
    public static function show(): void
    {
        if (!Admin::allowed('R')) {
            return;
        }
        global $APPLICATION; // group_rights.php, included below, reads it from this scope
        $t = Admin::t();
        $right = Admin::right();
        $module_id = Admin::MODULE_ID;
        $isSave = ($_SERVER['REQUEST_METHOD'] ?? 'GET') === 'POST' && (isset($_POST['Update']) || isset($_POST['Apply']));
        $problem = null;
        // without the extension the page still shows why mail bypasses smtp34 (and the access tab)
        $settings = extension_loaded('smtp34') ? smtp34_settings() : [];
        if ($isSave && Admin::mayChange()) {
            if ($settings !== []) {
                [$settings, $problem] = Actions::saveSettings(Admin::request($_POST));
            }
            if ($problem === null) {
                // Bitrix's access tab saves the groups' rights from the same POST. It
                // reads the request from the scope it is included in, as an
                // options page included by settings.php would leave it.
                $REQUEST_METHOD = 'POST';
                $Update = 'Y';
                [$GROUPS, $RIGHTS, $SITES] = [(array) ($_POST['GROUPS'] ?? []), (array) ($_POST['RIGHTS'] ?? []), (array) ($_POST['SITES'] ?? [])];
                ob_start();
                require $_SERVER['DOCUMENT_ROOT'] . '/bitrix/modules/main/admin/group_rights.php';
                ob_end_clean();
                LocalRedirect(AdminPage::url('settings', ['saved' => 1]));
                return;
            }
        }

        Admin::showWarnings(SiteWarnings::all($_SERVER['DOCUMENT_ROOT'], $t));
        if ($problem !== null) {
            \CAdminMessage::ShowMessage(['MESSAGE' => Admin::site($t->get('INVALID_FIELD') . ' ' . $problem), 'TYPE' => 'ERROR']);
        } elseif (isset($_GET['saved'])) {
            \CAdminMessage::ShowNote(Admin::site($t->get('SAVED')));
        }
        $tabs = [
            ['DIV' => 'smtp34_settings', 'TAB' => Admin::site($t->get('MENU_SETTINGS')), 'TITLE' => Admin::site($t->get('SETTINGS_TITLE'))],
            ['DIV' => 'smtp34_rights', 'TAB' => Admin::site(Admin::loc('SMTP34_TAB_RIGHTS')), 'TITLE' => Admin::site(Admin::loc('SMTP34_TAB_RIGHTS_TITLE'))],
        ];
        $control = new \CAdminTabControl('smtp34_options', $tabs);
        echo '<form method="post" action="' . htmlspecialcharsbx(AdminPage::url('settings')) . '" id="settings-form">' . bitrix_sessid_post();
        $control->Begin();
        $control->BeginNextTab();
        foreach ($settings as $key => $value) {
            echo '<tr><td width="40%" class="adm-detail-content-cell-l"><label for="' . $key . '">' . Admin::e($t->get("SET_$key")) . ':</label></td><td class="adm-detail-content-cell-r">'
                . Admin::site(Html::settingInput($key, $value, $t)) . '<br><small>' . Admin::e($t->get("SET_{$key}_HELP")) . '</small></td></tr>';
        }
        $control->BeginNextTab();
        // the tab only shows the rights: they were saved above, with the settings, or not at all
        [$REQUEST_METHOD, $Update] = ['GET', ''];
        require $_SERVER['DOCUMENT_ROOT'] . '/bitrix/modules/main/admin/group_rights.php';
        $control->Buttons();
        $disabled = $right < 'W' ? ' disabled' : '';
        echo '<input type="submit" name="Update" value="' . Admin::e($t->get('SAVE')) . '" class="adm-btn-save"' . $disabled . '> '
            . '<input type="submit" name="Apply" value="' . Admin::e($t->get('APPLY')) . '"' . $disabled . '>';
        $control->End();
        echo '</form>';
    }
}

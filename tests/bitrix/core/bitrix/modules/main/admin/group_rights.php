<?php
// Fake of Bitrix's access tab (main/admin/group_rights.php), included by a
// module's options page with $module_id set: it lists the module's right
// levels (the installer's GetModuleRightList) and, as the real one does,
// saves the posted $GROUPS/$RIGHTS when $REQUEST_METHOD is POST, $Update is
// set and the user has W, reading all of these from the including scope.
$MODULE_RIGHT = $APPLICATION->GetGroupRight($module_id);
$smtp34Module = new smtp34_smtp();
$smtp34Levels = $smtp34Module->GetModuleRightList();
if (($REQUEST_METHOD ?? '') === 'POST' && ($Update ?? '') !== '' && $MODULE_RIGHT === 'W' && check_bitrix_sessid() && !empty($GROUPS)) {
    $GLOBALS['SMTP34_FAKE_RIGHTS_SAVED'][] = [$module_id, array_combine($GROUPS, $RIGHTS)];
}
echo '<tr id="group-rights" data-module="' . htmlspecialchars($module_id) . '"><td>';
foreach ($smtp34Levels['reference_id'] as $i => $level) {
    echo '<option value="' . $level . '">' . htmlspecialchars($smtp34Levels['reference'][$i]) . '</option>';
}
echo '</td></tr>';

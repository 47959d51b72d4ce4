<?php
// Fake of Bitrix's access tab (main/admin/group_rights.php), included by a
// module's options page with $module_id set: it lists the module's right
// levels (the installer's GetModuleRightList) and saves the groups' rights
// when the options form is posted with Update or Apply.
global $REQUEST_METHOD, $Update, $Apply;
$smtp34Module = new smtp34_smtp();
$smtp34Levels = $smtp34Module->GetModuleRightList();
if (($REQUEST_METHOD ?? '') === 'POST' && ($Update . $Apply) !== '' && check_bitrix_sessid()) {
    $GLOBALS['SMTP34_FAKE_RIGHTS_SAVED'][] = $module_id;
}
echo '<tr id="group-rights" data-module="' . htmlspecialchars($module_id) . '"><td>';
foreach ($smtp34Levels['reference_id'] as $i => $level) {
    echo '<option value="' . $level . '">' . htmlspecialchars($smtp34Levels['reference'][$i]) . '</option>';
}
echo '</td></tr>';

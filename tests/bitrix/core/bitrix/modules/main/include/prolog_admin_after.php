<?php
// Fake of Bitrix's admin prolog (part two): the admin section's header, with
// the page's title. Like the real one (interface/prolog_main_admin.php) it
// reads $APPLICATION and $adminPage from the scope it is included in, so it
// fails when a page includes it from inside a function.
if (!isset($APPLICATION, $adminPage)) {
    throw new LogicException('prolog_admin_after.php must be included at the admin script\'s own scope ($APPLICATION, $adminPage are not here)');
}
echo '<!-- prolog: ' . htmlspecialcharsbx($APPLICATION->GetTitle()) . ' -->';

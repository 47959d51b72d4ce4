<?php
// Fake of Bitrix's admin prolog (part two): the admin section's header, with the page's title.
echo '<!-- prolog: ' . htmlspecialcharsbx($GLOBALS['APPLICATION']->GetTitle()) . ' -->';

<?php
// Fake of Bitrix's admin prolog (part two): the admin section's header, with the page's title.
echo '<!-- prolog: ' . htmlspecialchars($GLOBALS['APPLICATION']->GetTitle()) . ' -->';

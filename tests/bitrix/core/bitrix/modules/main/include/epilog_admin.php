<?php
// Fake of Bitrix's admin epilog.
echo '<!-- epilog -->';

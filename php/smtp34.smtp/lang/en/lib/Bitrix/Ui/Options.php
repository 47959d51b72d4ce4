<?php
$MESS['SMTP34_TAB_RIGHTS'] = 'Access';
$MESS['SMTP34_TAB_RIGHTS_TITLE'] = 'What user groups may do in the module';

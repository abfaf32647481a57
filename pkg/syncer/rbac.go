package syncer

import (
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
)

// MailboxAccess returns what gives a syncer, as ServiceAccount name, access to its mailbox
// and to nothing else: the ServiceAccount, and a Role and RoleBinding in the mailbox.
func MailboxAccess(mailbox, name string) []client.Object {
	group := edgev2alpha1.GroupName
	return []client.Object{
		&corev1.ServiceAccount{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
			ObjectMeta: metav1.ObjectMeta{Namespace: mailbox, Name: name},
		},
		&rbacv1.Role{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"},
			ObjectMeta: metav1.ObjectMeta{Namespace: mailbox, Name: name},
			Rules: []rbacv1.PolicyRule{
				// Downsync reads the wrappers and reports on them; upsync writes its own.
				{APIGroups: []string{group}, Resources: []string{"wrappedobjects"}, Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}},
				{APIGroups: []string{group}, Resources: []string{"wrappedobjects/status"}, Verbs: []string{"get", "update", "patch"}},
				{APIGroups: []string{group}, Resources: []string{"syncerconfigs"}, Verbs: []string{"get", "list", "watch"}},
				{APIGroups: []string{group}, Resources: []string{"syncerconfigs/status"}, Verbs: []string{"get", "update", "patch"}},
			},
		},
		&rbacv1.RoleBinding{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
			ObjectMeta: metav1.ObjectMeta{Namespace: mailbox, Name: name},
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: name},
			Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: mailbox, Name: name}},
		},
	}
}
